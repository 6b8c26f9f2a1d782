"""What creating `inference.predictor(model)` costs (`keras-famous bench --creation`): cold (nothing cached)
and cached (a new process, the same weights), each in a fresh process; seconds until it is ready and the peak
resident memory of that process and of its child processes (the conversions and the race run there when
they are heavy: tf2onnx's memory is spent in a child and returned when it exits).

The engine cache is a temporary KERAS_FAMOUS_HOME made for the measurement, so the first run is cold whatever
the user's cache holds; the weights are random but fixed by a seed, the same in every process.
"""

import dataclasses
import json
import os
import resource
import sys
import tempfile
import time

from . import launch
from .timing import peak_resident_mb

WORKER = "keras_famous.benchmarks.creation"


@dataclasses.dataclass
class CreationRecord:
    model: str
    batch: int
    run: int
    cache: str  # the predictor's: "miss" (cold), "hit"
    ready_s: float  # inference.predictor(...) until it returned
    process_s: float  # the whole process: imports, building the model, the predictor
    peak_mem_mb: float  # this process's peak resident memory
    child_peak_mem_mb: float  # the largest of its child processes' (conversions and race)
    engines: dict


def _worker(name, batch):
    started = time.perf_counter()
    import keras

    from .. import inference, registry

    keras.utils.set_random_seed(0)
    model = registry.build_variant(name, None)
    predictor = inference.predictor(model, batch_size=batch, verbose=False)
    return {
        "cache": predictor.cache, "ready_s": predictor.seconds, "process_s": time.perf_counter() - started,
        "peak_mem_mb": peak_resident_mb(), "engines": predictor.engines,
        "child_peak_mem_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }  # fmt: skip


def creation_times(models, batch=32, runs=2, progress=print, timeout=3600):
    """CreationRecords: for each model `runs` fresh processes sharing one new engine cache (the first cold)."""
    import subprocess

    records = []
    for name in models:
        with tempfile.TemporaryDirectory(prefix="keras_famous-creation-") as home:
            environment = dict(os.environ, KERAS_FAMOUS_HOME=home)
            environment.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            for run in range(1, runs + 1):
                progress(f"  {name}: creating a predictor, run {run} ...")
                command = launch.command(WORKER, name, batch)
                result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=timeout)
                lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
                if result.returncode != 0 or not lines:
                    tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
                    raise RuntimeError(f"creating a predictor for {name} failed: {tail}")
                records.append(CreationRecord(model=name, batch=batch, run=run, **json.loads(lines[-1])))
    return records


def creation_markdown(records):
    lines = [
        "| model | batch | run | engine cache | ready (s) | process (s) | peak RSS (MB) | child peak RSS (MB) | engines |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        engines = ", ".join(f"batch {size}: {name}" for size, name in r.engines.items())
        lines.append(
            f"| {r.model} | {r.batch} | {r.run} | {r.cache} | {r.ready_s:.1f} | {r.process_s:.1f} | "
            f"{r.peak_mem_mb:,.0f} | {r.child_peak_mem_mb:,.0f} | {engines} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(json.dumps(_worker(sys.argv[1], int(sys.argv[2]))))
