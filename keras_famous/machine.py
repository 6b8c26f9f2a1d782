"""What this machine gives a process (standard library only, so TensorFlow-free workers can ask too): its CPU
and the features that decide which engine wins, the cores it may use and the memory it may still take, each
bounded by the container's cgroup (v2 `cpu.max`, `memory.max`; v1 `cpu.cfs_quota_us`, `memory.limit_in_bytes`)
where there is one, since a container sees the host's CPUs and MemAvailable but is held to its own limits.
"""

import math
import os
import platform

# /proc/cpuinfo flag -> what the speed tables call it. int8 engines gain most with an int8 dot product (VNNI,
# Arm's dotprod), bfloat16 ones with BF16/AMX; float32 engines need AVX2/AVX-512 (or Arm's NEON) only.
CPU_FEATURES = {
    "avx2": "AVX2",
    "avx512f": "AVX-512",
    "avx512_vnni": "AVX-512 VNNI (int8 dot product)",
    "avx_vnni": "AVX-VNNI (int8 dot product)",
    "avx512_bf16": "AVX-512 BF16",
    "avx512_fp16": "AVX-512 FP16",
    "amx_int8": "AMX int8",
    "amx_bf16": "AMX BF16",
    "asimd": "NEON",
    "asimddp": "dotprod (int8 dot product)",
    "i8mm": "i8mm (int8 matrix multiply)",
    "bf16": "BF16",
    "sve": "SVE",
}
INT8_DOT_PRODUCT = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm")
BFLOAT16 = ("avx512_bf16", "amx_bf16")
CGROUP = "/sys/fs/cgroup"


def _read(path):
    try:
        with open(path) as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return None


def cpu_flags():
    """The CPU's feature flags from /proc/cpuinfo (x86 "flags", Arm "Features"), or None where unknown."""
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            return frozenset(value.split())
    return None


def cpu_quota():
    """The cgroup's CPU quota in cores (2.5 for "250000 100000"), or None where there is none."""
    text = _read(f"{CGROUP}/cpu.max")
    if text:
        quota, _, period = text.partition(" ")
        return None if quota == "max" else int(quota) / int(period or 100000)
    quota, period = _read(f"{CGROUP}/cpu/cpu.cfs_quota_us"), _read(f"{CGROUP}/cpu/cpu.cfs_period_us")
    if quota and period and int(quota) > 0:
        return int(quota) / int(period)
    return None


def usable_cores():
    """The cores this process may run on: its affinity mask, no more than the cgroup's quota rounded up."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota()
    return max(1, min(cores, math.ceil(quota))) if quota else cores


def memory_limit():
    """(limit, in use) of this process's memory cgroup in bytes, or None where it has no limit."""
    for limit_file, usage_file in (("memory.max", "memory.current"), ("memory/memory.limit_in_bytes", "memory/memory.usage_in_bytes")):  # fmt: skip
        limit, usage = _read(f"{CGROUP}/{limit_file}"), _read(f"{CGROUP}/{usage_file}")
        if limit and limit != "max" and usage and int(limit) < 1 << 60:  # v1 writes "no limit" as ~2**63
            return int(limit), int(usage)
    return None


def available_memory():
    """Bytes a new allocation may take: Linux MemAvailable, no more than the cgroup limit left; None if unknown."""
    available = None
    for line in (_read("/proc/meminfo") or "").splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024
    limited = memory_limit()
    if limited is not None:
        left = max(0, limited[0] - limited[1])
        available = left if available is None else min(available, left)
    return available


def cpu_info():
    """{"cpu": model name, "cores": usable cores, "features": [CPU_FEATURES names present], "int8_dot_product":
    bool or None (unknown)} from /proc/cpuinfo (Linux; elsewhere the features are unknown)."""
    name = platform.processor() or platform.machine()
    for line in (_read("/proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Model name"):
            name = value.strip()
            break
    flags = cpu_flags()
    return {
        "cpu": name,
        "cores": usable_cores(),
        "features": None if flags is None else [label for flag, label in CPU_FEATURES.items() if flag in flags],
        "int8_dot_product": None if flags is None else any(flag in flags for flag in INT8_DOT_PRODUCT),
    }


def cpu_summary(info=None):
    """One line: the CPU, its cores and the features that decide which engine can win."""
    info = info or cpu_info()
    features = "unknown" if info["features"] is None else (", ".join(info["features"]) or "none of note")
    dot = {True: "yes", False: "no", None: "unknown"}[info["int8_dot_product"]]
    return f"CPU: {info['cpu']}, {info['cores']} cores; features: {features}; int8 dot product: {dot}"
