"""`predict_files`: image files through a predictor into a table, on this machine or on a Ray cluster.

Files are read and decoded by a pool of threads while the engine runs the batch before (TensorFlow's decoding
ops release the GIL); a file that cannot be read becomes a row with its error and the run goes on. Rows are
written per batch, so a re-run skips the paths the output already holds (`tables`). A progress line on stderr
shows images per second.
"""

import concurrent.futures
import sys
import time


from .. import machine
from ..applications import check_positive_int
from . import sources, tables
from .batches import build_predictor, rows
from .ray_job import ray_batches


class Progress:
    """`done/total images, N images/s` on stderr, redrawn at most twice a second."""

    def __init__(self, total, skipped, enabled):
        self.total, self.done, self.errors, self.enabled = total, 0, 0, enabled
        self.started = self.shown = time.perf_counter()
        if enabled and skipped:
            print(f"{skipped} image(s) already in the output are skipped", file=sys.stderr, flush=True)

    def add(self, written):
        self.done += len(written)
        self.errors += sum(1 for row in written if row["error"])
        now = time.perf_counter()
        if self.enabled and (now - self.shown > 0.5 or self.done == self.total):
            self.shown = now
            rate = self.done / max(now - self.started, 1e-9)
            unreadable = f", {self.errors} unreadable" if self.errors else ""
            end = "\n" if self.done == self.total else ""
            print(f"\r{self.done:,}/{self.total:,} images, {rate:.1f} images/s{unreadable}", end=end, file=sys.stderr, flush=True)  # fmt: skip

    @property
    def rate(self):
        return self.done / max(time.perf_counter() - self.started, 1e-9)


def _local_batches(source, paths, batch_size, top, threads, predict, decode):
    with concurrent.futures.ThreadPoolExecutor(max_workers=threads or machine.usable_cores()) as pool:
        chunks = [paths[start : start + batch_size] for start in range(0, len(paths), batch_size)]
        pending = [pool.submit(decode, path) for path in chunks[0]] if chunks else []
        for index, chunk in enumerate(chunks):
            decoded = [future.result() for future in pending]
            if index + 1 < len(chunks):  # the next batch decodes while the engine runs this one
                pending = [pool.submit(decode, path) for path in chunks[index + 1]]
            yield rows(chunk, decoded, predict, top, source.class_names)


def predict_files(
    model, inputs, output, *, top=5, features=False, weights="imagenet", variant=None, class_names=None,
    image_size=None, batch_size=32, engine="auto", precision="float32", threads=None, overwrite=False, ray=False,
    ray_address=None, verbose=True,
):  # fmt: skip
    """Classifies (the `top` classes) or embeds (`features=True`) every image file `inputs` names (files,
    folders at any depth, glob patterns) with `model` (a catalog name built with `weights`, a `.keras` file or
    a Keras model taking raw pixels) and writes one row per file to `output` (.csv, .jsonl or .parquet; see
    `tables`), resuming a previous run's output unless `overwrite`. `precision` ("float32", "bfloat16", "int8",
    "auto") is the predictor's, calibrated and checked on a sample of the run's own images. `ray=True` runs the batches on Ray actors
    (`ray_job`; `ray_address` or RAY_ADDRESS, else a local instance). Returns {"written", "skipped", "errors",
    "images_per_second", "output"}."""
    where = "predict_files"
    batch_size = check_positive_int(where, "batch_size", batch_size)
    if threads is not None:
        threads = check_positive_int(where, "threads", threads)
    if not features:
        top = check_positive_int(where, "top", top)
    tables.format_of(output)
    paths = sources.list_inputs(inputs)
    source = sources.resolve(
        model, weights=weights, variant=variant, class_names=class_names, image_size=image_size, features=features
    )
    if not features:
        top = min(top, max(1, len(source.class_names)))
    table = tables.open_table(output, None if features else top, overwrite=overwrite)
    todo = [path for path in paths if path not in table.done]
    top = None if features else top
    failed = True
    try:
        if ray:
            options = dict(weights=weights, variant=variant, class_names=class_names, image_size=image_size, features=features)  # fmt: skip
            batches = ray_batches(model, todo, batch_size, top, threads, engine, precision, ray_address, options)
        elif todo:
            predict, decode = build_predictor(
                source, todo, precision=precision, engine=engine, batch_size=batch_size, threads=threads, verbose=verbose
            )  # fmt: skip
            batches = _local_batches(source, todo, batch_size, top, threads, predict, decode)
        else:
            batches = ()
        progress = Progress(len(todo), len(paths) - len(todo), verbose)  # after the predictor: the work's own rate
        for written in batches:
            table.write(written)
            progress.add(written)
        failed = False
    finally:
        table.close(failed=failed)
    return {
        "written": progress.done, "skipped": len(paths) - len(todo), "errors": progress.errors,
        "images_per_second": progress.rate, "output": str(output),
    }  # fmt: skip
