"""`predict_files(..., ray=True)`: the same job on Ray Data (pip install 'keras-famous[ray]').

The paths become a dataset; `map_batches` runs them through an actor class, each actor holding one model and
one predictor (built once, when the actor starts) and decoding its batches itself, so only paths and rows
cross the cluster. The model travels as what recreates it: a catalog name with its weights (each machine
fetches them into its own cache), or the `.keras` file's bytes through Ray's object store (a model given as a
Keras object is saved to a `.keras` first). Actors: the cluster's CPUs divided by the threads each one runs
(`threads`, default 1). Rows come back to the driver, which writes the one output file as a local run does.
Without `address` (or RAY_ADDRESS) a local Ray instance is started for the job and stopped after it.
"""

import json
import os
import tempfile
import warnings

import numpy as np

from ..quiet import quiet
from . import sources
from .batches import build_predictor, rows


class PredictActor:
    """One model and one predictor per actor; called with {"path": [...]}, returns {"row": [JSON rows]}."""

    def __init__(self, model_ref, options, top, batch_size, threads, engine, precision, sample):
        import ray

        model = model_ref
        if isinstance(model_ref, ray.ObjectRef):  # the .keras file's bytes
            self._scratch = tempfile.TemporaryDirectory(prefix="keras_famous-actor-")
            model = os.path.join(self._scratch.name, "model.keras")
            with open(model, "wb") as out:
                out.write(ray.get(model_ref))
        self.source = sources.resolve(model, **options)
        self.predict, self.decode = build_predictor(
            self.source, sample, precision=precision, engine=engine, batch_size=batch_size, threads=threads,
            verbose=False,
        )  # fmt: skip
        self.top = top

    def __call__(self, batch):
        paths = [str(path) for path in batch["path"]]
        written = rows(paths, [self.decode(path) for path in paths], self.predict, self.top, self.source.class_names)
        return {"row": np.array([json.dumps(row) for row in written], dtype=object)}


def _model_reference(model, ray):
    """What an actor rebuilds the model from: a catalog name as it is, else the `.keras` bytes in the store."""
    import keras

    if isinstance(model, keras.Model):
        with tempfile.TemporaryDirectory(prefix="keras_famous-ray-") as scratch:
            path = os.path.join(scratch, "model.keras")
            model.save(path)
            with open(path, "rb") as handle:
                return ray.put(handle.read())
    if os.fspath(model).endswith(".keras"):
        with open(model, "rb") as handle:
            return ray.put(handle.read())
    return model


def ray_batches(model, paths, batch_size, top, threads, engine, precision, address, options):
    """Lists of rows for `paths`, computed by PredictActor actors on the Ray cluster at `address`."""
    try:
        import ray
        import ray.data
    except ImportError as error:
        raise ImportError("Running on Ray needs ray[data]: pip install 'keras-famous[ray]'.") from error
    if not paths:
        return
    started_here = not ray.is_initialized()
    if started_here:
        address = address or os.environ.get("RAY_ADDRESS") or None
        environment = {"env_vars": {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}}
        ray.init(address=address, runtime_env=environment, include_dashboard=False, logging_level="ERROR", log_to_driver=False)  # fmt: skip
    try:
        ray.data.DataContext.get_current().enable_progress_bars = False  # predict_files shows its own
        threads = threads or 1
        actors = max(1, min(len(paths), int(ray.cluster_resources().get("CPU", 1) // threads)))
        reference = _model_reference(model, ray)
        sample = [] if precision == "float32" else paths[:: max(1, len(paths) // 256)][:256]  # calibration images
        with warnings.catch_warnings():  # max_restarts has no named parameter yet, and ray_remote_args warns
            warnings.simplefilter("ignore")
            dataset = ray.data.from_items([{"path": path} for path in paths]).map_batches(
                PredictActor,
                fn_constructor_args=(reference, options, top, batch_size, threads, engine, precision, sample),
                batch_size=batch_size,
                compute=ray.data.ActorPoolStrategy(size=actors),
                num_cpus=threads,
                max_restarts=0,  # an actor that dies fails the job (its rows so far are written; a re-run resumes)
            )
        with quiet("ray", "ray.data"):  # Ray Data's INFO lines on the plan and its run
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                yield [json.loads(text) for text in batch["row"]]
    finally:
        if started_here:
            ray.shutdown()
