"""The timing loop and the memory reading every benchmark worker shares (standard library only, so that
PyTorch and LiteRT workers can use them without TensorFlow)."""

import resource
import time


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


def usable_cores():
    """The cores this process may run on (its affinity mask where the system has one)."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def cpu_info():
    """{"cpu": model name, "cores": usable cores, "features": [CPU_FEATURES names present], "int8_dot_product":
    bool or None (unknown)} from /proc/cpuinfo (Linux; elsewhere the features are unknown)."""
    import platform

    name, flags = platform.processor() or platform.machine(), None
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "Model name") and name in ("", platform.machine(), platform.processor()):
                    name = value.strip()
                elif key in ("flags", "Features") and flags is None:
                    flags = set(value.split())
    except OSError:
        pass
    cores = usable_cores()
    return {
        "cpu": name,
        "cores": cores,
        "features": None if flags is None else [label for flag, label in CPU_FEATURES.items() if flag in flags],
        "int8_dot_product": None if flags is None else any(flag in flags for flag in INT8_DOT_PRODUCT),
    }


def cpu_summary(info=None):
    """One line: the CPU, its cores and the features that decide which engine can win."""
    info = info or cpu_info()
    features = "unknown" if info["features"] is None else (", ".join(info["features"]) or "none of note")
    dot = {True: "yes", False: "no", None: "unknown"}[info["int8_dot_product"]]
    return f"CPU: {info['cpu']}, {info['cores']} cores; features: {features}; int8 dot product: {dot}"
