"""The launcher of `keras-famous train --workers N`: N processes of one JAX run on this machine, joined through a
coordinator on 127.0.0.1, and never left running.

- The chief's output is forwarded as it comes (progress bars redraw with carriage returns), less gloo's C++
  "[Gloo] Rank 0 is connected" line; every worker's stderr goes to a log, kept (and its path printed) when the
  run fails.
- The first worker to die stops the others (SIGTERM, then SIGKILL after a grace period) and the launcher exits 1
  naming it. A worker that has not joined the coordinator within `join_timeout` seconds stops the run the same
  way, naming it (JAX's own timeout is 300 s).
- SIGTERM, SIGINT and SIGHUP to the launcher (`timeout`, schedulers, `kill`, a closed terminal) stop every worker
  and it exits 128 + the signal's number. Workers also get SIGTERM if the launcher itself is killed (Linux).
"""

import codecs
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from .distribution import JOINING
from .recipe import PROGRESS_BAR

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1


def free_port(host="127.0.0.1"):
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _how_it_ended(code):
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
    return f"exited with code {code}"


def _tail(path, lines=15):
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:])


def _forward(stream, out):
    """Copies the chief's output to `out` as it comes. If `out` fails (a closed pipe), the chief's output is
    still drained, so the chief never blocks on a full pipe."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending, writable = "", True
    while chunk := os.read(stream.fileno(), 65536):
        if not writable:
            continue
        pending += decoder.decode(chunk)
        cut = max(pending.rfind("\n"), pending.rfind("\r")) + 1
        lines, pending = pending[:cut].splitlines(keepends=True), pending[cut:]
        try:
            out.write("".join(line for line in lines if not line.startswith("[Gloo] ")))
            out.flush()
        except (OSError, ValueError):
            writable = False
    with contextlib.suppress(OSError, ValueError):
        out.write(pending + decoder.decode(b"", final=True))
        out.flush()
    stream.close()


def _die_with_parent():
    """In the worker before exec: SIGTERM when the launcher dies, even by SIGKILL (Linux prctl)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class _Stopped(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _raise_stopped(signum, frame):
    raise _Stopped(signum)


@contextlib.contextmanager
def _stop_on_signals():
    """SIGTERM, SIGINT and SIGHUP raise `_Stopped` in the launcher while the block runs (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, _raise_stopped) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def launch(command, workers, *, env=None, poll_seconds=0.2, grace_seconds=10, join_timeout=60, out=sys.stdout):
    """Runs `command` (an argv list) as `workers` processes of one JAX run on this machine (module note).
    Returns 0 when every worker succeeded, 128 + the signal's number when the launcher was stopped by one,
    else 1."""
    port = free_port()
    logs = tempfile.mkdtemp(prefix="keras-famous-train-")
    # unbuffered: the chief's progress shows as it happens; faulthandler: a worker aborted by JAX's
    # coordination service leaves its Python stack in its log
    base = dict(os.environ if env is None else env, KERAS_BACKEND="jax", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    base.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if getattr(out, "isatty", lambda: False)():
        base[PROGRESS_BAR] = "1"  # the chief writes to a pipe, but the user watches a terminal
    base.update(
        KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}",
        KERAS_DISTRIBUTION_NUM_PROCESSES=str(workers),
        **{JOINING: logs},
    )
    processes, forwarder = [], None
    with _stop_on_signals():
        try:
            for index in range(workers):
                with open(os.path.join(logs, f"worker-{index}.log"), "w") as log:
                    processes.append(
                        subprocess.Popen(
                            command,
                            env=dict(base, KERAS_DISTRIBUTION_PROCESS_ID=str(index)),
                            stdout=subprocess.PIPE if index == 0 else subprocess.DEVNULL,
                            stderr=log,
                            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
                        )
                    )
            forwarder = threading.Thread(target=_forward, args=(processes[0].stdout, out), daemon=True)
            forwarder.start()
            pids = ", ".join(f"worker {index}: pid {process.pid}" for index, process in enumerate(processes))
            print(f"Started {workers} workers on the JAX backend, coordinator 127.0.0.1:{port} ({pids})", file=out)
            out.flush()
            failure = _wait_for_all(processes, poll_seconds, logs, join_timeout)
        except _Stopped as stopped:
            _stop(processes, grace_seconds)
            name = signal.Signals(stopped.signum).name
            print(
                f"keras-famous train: stopped by {name}; the {len(processes)} workers were stopped. Run the same "
                f"command again to resume from the last checkpoint. Worker logs: {logs}",
                file=sys.stderr,
            )
            return 128 + stopped.signum
        except BaseException:
            _stop(processes, grace_seconds)
            raise
    if failure is None:
        forwarder.join(grace_seconds)
        shutil.rmtree(logs, ignore_errors=True)
        return 0
    _stop(processes, grace_seconds)
    if forwarder is not None:
        forwarder.join(grace_seconds)  # bounded: a stuck forwarder cannot hang the run
    print(f"keras-famous train: {failure}; the other workers were stopped. Run the same command again to resume "
          f"from the last checkpoint. Worker logs: {logs}", file=sys.stderr)  # fmt: skip
    return 1


def _joined(logs, index, stage):
    return os.path.exists(os.path.join(logs, f"worker-{index}.{stage}"))


def _wait_for_all(processes, poll_seconds, logs, join_timeout):
    """None when every process exits with 0; else what stopped the run: the first to fail (a killed one first
    when several are found failed at once: the others usually fail because it died), or the workers that had not
    joined within `join_timeout` seconds."""
    started = time.monotonic()
    while True:
        codes = [process.poll() for process in processes]
        failures = [(code >= 0, index, code) for index, code in enumerate(codes) if code not in (None, 0)]
        if failures:
            _, index, code = min(failures)
            log = os.path.join(logs, f"worker-{index}.log")
            tail = f"\n--- the end of {log} ---\n{_tail(log)}" if code > 0 else ""
            return f"worker {index} (pid {processes[index].pid}) {_how_it_ended(code)}{tail}"
        if all(code == 0 for code in codes):
            return None
        waiting = [index for index in range(len(processes)) if not _joined(logs, index, "joined")]
        if waiting and time.monotonic() - started > join_timeout:
            # the ones that never reached the coordinator are the cause; if all did, none could connect
            late = [index for index in waiting if not _joined(logs, index, "reached")] or waiting
            named = ", ".join(f"worker {index} (pid {processes[index].pid})" for index in late)
            return (
                f"{named} did not join the run's coordinator within --join-timeout {join_timeout:g} s (busy machine, "
                "slow start: raise --join-timeout)"
            )
        time.sleep(poll_seconds)


def _stop(processes, grace_seconds):
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + grace_seconds
    for process in processes:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
