"""Per-epoch checkpoints a stopped run resumes from: each process's weights (BatchNormalization statistics
too), optimizer state and the run's settings, in `directory/process-I/epoch-NNNN.npz`.

Writes are atomic and fsync'ed (a crash or a power cut leaves the previous file whole); the last `keep` are
kept, so a corrupt newest file falls back to the one before it, with a warning. Files load with
`allow_pickle=False`. A run resumes after the newest epoch every process has.
"""

import contextlib
import glob
import json
import os
import shutil
import warnings
import zipfile

import keras
import numpy as np

from .. import files
from .distribution import allgather, current_process


def _state(model):
    """The variables a resumed run needs: the model's (BN statistics too), then the optimizer's."""
    return list(model.weights) + list(model.optimizer.variables)


def _state_names(model):
    """The names of `_state(model)`, less the optimizer's own name (Keras numbers it per session: adam_1)."""
    return [variable.path for variable in model.weights] + [
        variable.path.split("/", 1)[-1] for variable in model.optimizer.variables
    ]


def differing_settings(saved, current):
    """The keys whose values differ between two settings dicts (a key missing on one side differs)."""
    return sorted(key for key in set(saved) | set(current) if saved.get(key) != current.get(key))


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch, this process's weights, optimizer state and `settings` (a JSON-able dict describing the
    run) to `directory/process-I/epoch-NNNN.npz`. `restore(model)` loads the newest epoch that every process
    has and returns it (0 with no checkpoint); `saved_settings()` reads what the newest one recorded."""

    def __init__(self, directory, keep=2, settings=None):
        super().__init__()
        self.directory = os.fspath(directory)
        self.keep = keep
        self.settings = dict(settings or {})
        self.process = current_process()

    def _own(self):
        return os.path.join(self.directory, f"process-{self.process.index}")

    def _path(self, epoch):
        return os.path.join(self._own(), f"epoch-{epoch:04d}.npz")

    def _epochs(self):
        names = glob.glob(os.path.join(self._own(), "epoch-*.npz"))
        return sorted(int(os.path.basename(name)[6:-4]) for name in names)

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(self._own(), exist_ok=True)
        state = _state(self.model)
        arrays = {f"v{index}": keras.ops.convert_to_numpy(variable.value) for index, variable in enumerate(state)}
        arrays["paths"] = np.array(_state_names(self.model))
        arrays["settings"] = np.array(json.dumps(self.settings, sort_keys=True))
        with files.atomic_file(self._path(epoch + 1), suffix=".npz", durable=True) as handle:
            np.savez(handle, epoch=np.int64(epoch + 1), **arrays)
        for old in self._epochs()[: -self.keep]:
            os.remove(self._path(old))

    def _read(self, epoch):
        """Every array of one checkpoint, or None (with a warning) when it cannot be read whole."""
        try:
            with np.load(self._path(epoch), allow_pickle=False) as saved:
                return {key: saved[key] for key in saved.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as error:
            warnings.warn(
                f"The checkpoint {self._path(epoch)} cannot be read ({type(error).__name__}: {error}); "
                "falling back to the one before it.",
                stacklevel=3,
            )
            return None

    def _newest_readable(self):
        for epoch in reversed(self._epochs()):
            saved = self._read(epoch)
            if saved is not None:
                return epoch, saved
        return 0, None

    def saved_settings(self):
        """The settings the newest readable checkpoint of this process recorded; None without a checkpoint."""
        _, saved = self._newest_readable()
        if saved is None:
            return None
        return json.loads(str(saved["settings"])) if "settings" in saved else {}

    def latest_epoch(self):
        """The newest epoch every process has a readable checkpoint of (0: none)."""
        mine, _ = self._newest_readable()
        return int(allgather(np.int64(mine)).min())

    def restore(self, model, epoch=None, optimizer=True):
        """Loads `epoch` (default `latest_epoch()`) into `model` and returns it: its weights, and with `optimizer`
        its optimizer's state (the optimizer built here; not across a change of optimizer, such as
        `transfer.fine_tune`'s next phase)."""
        epoch = self.latest_epoch() if epoch is None else epoch
        if epoch == 0:
            return 0
        saved = self._read(epoch) if epoch in self._epochs() else None
        if saved is None:
            raise RuntimeError(
                f"Process {self.process.index} has no readable checkpoint of epoch {epoch} in {self._own()}."
            )
        model.optimizer.build(model.trainable_variables)
        paths, names = [str(path) for path in saved["paths"]], _state_names(model)
        state = _state(model) if optimizer else list(model.weights)
        if paths[: len(state)] != names[: len(state)] or (optimizer and len(paths) != len(names)):
            raise ValueError(
                f"The checkpoint in {self.directory} was written by another model or optimizer: "
                "start with another checkpoint directory (--checkpoint-dir) or remove it."
            )
        for index, variable in enumerate(state):
            variable.assign(saved[f"v{index}"])
        return epoch

    def remove(self):
        """Removes this process's checkpoints (and the directory once every process's are gone)."""
        shutil.rmtree(self._own(), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(self.directory)
