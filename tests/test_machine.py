"""`machine`: a container's cgroup bounds the cores and the memory a predictor plans for (the host's CPU count and
MemAvailable are what a container sees, not what it may use)."""

import os

from keras_famous import machine


def _cgroup(tmp_path, **files):
    for name, text in files.items():
        path = tmp_path / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path)


def test_a_cgroup_v2_quota_and_limit_bound_cores_and_memory(tmp_path, monkeypatch):
    affinity = len(os.sched_getaffinity(0))
    monkeypatch.setattr(machine, "CGROUP", _cgroup(tmp_path, **{"cpu.max": "50000 100000\n", "memory.max": "3000000000\n", "memory.current": "1000000000\n"}))  # fmt: skip
    assert machine.cpu_quota() == 0.5 and machine.usable_cores() == 1  # half a core: one thread, not the host's
    assert machine.memory_limit() == (3_000_000_000, 1_000_000_000)
    assert machine.available_memory() <= 2_000_000_000
    monkeypatch.setattr(machine, "CGROUP", _cgroup(tmp_path / "none", **{"cpu.max": "max 100000\n", "memory.max": "max\n", "memory.current": "5\n"}))  # fmt: skip
    assert machine.cpu_quota() is None and machine.usable_cores() == affinity and machine.memory_limit() is None


def test_a_cgroup_v1_quota_and_limit(tmp_path, monkeypatch):
    files = {"cpu__cpu.cfs_quota_us": "250000\n", "cpu__cpu.cfs_period_us": "100000\n",
             "memory__memory.limit_in_bytes": "4000000000\n", "memory__memory.usage_in_bytes": "500000000\n"}  # fmt: skip
    monkeypatch.setattr(machine, "CGROUP", _cgroup(tmp_path, **files))
    assert machine.cpu_quota() == 2.5 and machine.usable_cores() == min(len(os.sched_getaffinity(0)), 3)
    assert machine.memory_limit() == (4_000_000_000, 500_000_000)
    unlimited = dict(files, **{"memory__memory.limit_in_bytes": str(2**63 - 4096), "cpu__cpu.cfs_quota_us": "-1"})
    monkeypatch.setattr(machine, "CGROUP", _cgroup(tmp_path / "unlimited", **unlimited))
    assert machine.memory_limit() is None and machine.cpu_quota() is None
