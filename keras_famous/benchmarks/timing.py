"""The timing loop and the memory reading every benchmark worker shares (standard library only, so that
PyTorch and LiteRT workers can use them without TensorFlow)."""

import resource
import time

from ..machine import CPU_FEATURES, cpu_info, cpu_summary, usable_cores  # noqa: F401  (the benchmarks' names)


def peak_resident_mb():
    """This process's peak resident memory in MB: Linux's VmHWM, which starts afresh at exec (unlike
    `ru_maxrss`, which keeps the resident size of the process that spawned this one); `ru_maxrss`
    elsewhere."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def time_calls(call, warmup, repeats):
    """Milliseconds of each of `repeats` calls of `call()`, after `warmup` untimed calls."""
    latencies = []
    for step in range(warmup + repeats):
        start = time.perf_counter()
        call()
        if step >= warmup:
            latencies.append(1000 * (time.perf_counter() - start))
    return latencies
