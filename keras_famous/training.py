"""Training on one device, several devices, or several processes and machines: one `fit`, the
distribution chosen by the Keras backend.

    model, history = training.fit(lambda: keras_famous.ResNet50(classes=10), x, y,
                                  epochs=10, global_batch_size=256, checkpoint_dir="ckpt")

- **JAX**: `keras.distribution.DataParallel` over every device of every process (`jax.devices()`).
  Processes join with `initialize()` (arguments or Keras' `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
  `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`); on CPUs they talk through
  gloo. Each process feeds its own slice of every global batch (`auto_shard_dataset=False`), and the
  gradients are averaged over all of them, so every process ends with the same weights.
- **TensorFlow**: `tf.distribute.MirroredStrategy` on one machine (every GPU, or logical CPUs made by
  `split_cpu`). `MultiWorkerMirroredStrategy` does not run Keras 3's `fit` (keras-team/keras#20585,
  tensorflow/tensorflow#72388), so it is not offered: use the JAX backend across processes.
- **torch**: one device.

`checkpoint_dir` keeps the last two epochs (weights and optimizer state) per process; a run started
again with the same directory resumes after the newest epoch every process has. `launch` starts N
local processes of a command and stops them all, with a message, when one dies.
"""

import codecs
import contextlib
import dataclasses
import glob
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import keras
import numpy as np

from . import datasets, files, registry, transfer

ENVIRONMENT = (
    "KERAS_DISTRIBUTION_JOB_ADDRESSES",
    "KERAS_DISTRIBUTION_NUM_PROCESSES",
    "KERAS_DISTRIBUTION_PROCESS_ID",
)
MULTI_WORKER_UPSTREAM = (
    "tf.distribute.MultiWorkerMirroredStrategy does not run Keras 3's fit (it fails in the symbolic build "
    "with 'Attempt to convert a value (PerReplica...) to a Tensor': keras-team/keras#20585, "
    "tensorflow/tensorflow#72388). Train on several processes or machines with the JAX backend "
    "(KERAS_BACKEND=jax): training.initialize() + training.fit(), or `keras-famous train --workers N`."
)
KINDS = ("auto", "default", "mirrored")
PROGRESS_BAR = "KERAS_FAMOUS_PROGRESS_BAR"  # set by `launch` for a chief whose output reaches a terminal


# -- TensorFlow strategies (one machine) ------------------------------------------------------------


def split_cpu(count):
    """Splits the physical CPU into `count` logical devices (before TensorFlow initialises its devices)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise RuntimeError(
            "split_cpu() must run before TensorFlow initialises its devices (before building any model)."
        ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def strategy(kind="auto", devices=None):
    """A tf.distribute strategy: "default" (one device), "mirrored" (`devices`, else all GPUs, else all
    logical CPUs), or "auto" (mirrored over two or more GPUs, else default)."""
    import tensorflow as tf

    if kind == "multi_worker":
        raise ValueError(f"`kind`: {MULTI_WORKER_UPSTREAM}")
    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}; received kind={kind!r}.")
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "default"
    if kind == "default":
        return tf.distribute.get_strategy()
    devices = devices or gpus or [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


# -- processes ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Process:
    """This process's place in the run: `index` of `count` (index 0 is the chief)."""

    index: int = 0
    count: int = 1

    @property
    def chief(self):
        return self.index == 0


def _environment_int(name, value):
    value = os.environ.get(name) if value is None else value
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer; received {value!r}.") from None


def initialize(job_addresses=None, num_processes=None, process_id=None):
    """Joins this process to a multi-process run and returns its `Process`. Each argument defaults to
    its KERAS_DISTRIBUTION_* environment variable; one process (or none configured) is a no-op. Call it
    before building any model. Needs the JAX backend (see the module's note on TensorFlow)."""
    num_processes = _environment_int("KERAS_DISTRIBUTION_NUM_PROCESSES", num_processes)
    process_id = _environment_int("KERAS_DISTRIBUTION_PROCESS_ID", process_id)
    job_addresses = job_addresses or os.environ.get("KERAS_DISTRIBUTION_JOB_ADDRESSES")
    if num_processes in (None, 1):
        return Process()
    if keras.config.backend() != "jax":
        raise ValueError(
            f"Training on {num_processes} processes needs the JAX backend (KERAS_BACKEND=jax); this process "
            f"runs {keras.config.backend()!r}. {MULTI_WORKER_UPSTREAM if keras.config.backend() == 'tensorflow' else ''}"
        )
    if process_id is None or not 0 <= process_id < num_processes or not job_addresses:
        raise ValueError(
            f"A run of {num_processes} processes needs KERAS_DISTRIBUTION_JOB_ADDRESSES (the coordinator's "
            f"host:port first) and KERAS_DISTRIBUTION_PROCESS_ID in 0..{num_processes - 1}; received "
            f"job_addresses={job_addresses!r}, process_id={process_id!r}."
        )
    import jax

    if not jax.distributed.is_initialized():  # `train` calls it again after a user's own call
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize(job_addresses, num_processes, process_id)
    return current_process()


def current_process():
    """This process's `Process` (index 0 of 1 unless a JAX multi-process run was initialized)."""
    if keras.config.backend() != "jax":
        return Process()
    import jax

    return Process(jax.process_index(), jax.process_count())


def data_parallel():
    """`keras.distribution.DataParallel` over every device of every process (JAX), each process feeding
    its own slice of the global batch; None when there is one device or the backend is not JAX."""
    if keras.config.backend() != "jax":
        return None
    import jax

    if len(jax.devices()) < 2:
        return None
    distribution = keras.distribution.DataParallel(devices=jax.devices())
    distribution.auto_shard_dataset = False
    return distribution


def _allgather(array):
    """(processes, *array.shape): `array` from every process, in process order."""
    if current_process().count == 1:
        return np.asarray(array)[None]
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(np.asarray(array)))


def weights_digest(model):
    """sha256 of this process's copy of every weight of `model` (BN statistics included)."""
    digest = hashlib.sha256()
    for variable in model.weights:
        digest.update(np.ascontiguousarray(keras.ops.convert_to_numpy(variable.value)).tobytes())
    return digest.hexdigest()


def check_identical_weights(model):
    """Compares every process's weights digest; returns it, or raises RuntimeError naming the processes
    whose copy differs from the chief's."""
    mine = weights_digest(model)
    digests = [bytes(row).hex() for row in _allgather(np.frombuffer(bytes.fromhex(mine), dtype=np.uint8))]
    differing = [index for index, digest in enumerate(digests) if digest != digests[0]]
    if differing:
        raise RuntimeError(f"The weights of processes {differing} differ from the chief's after training.")
    return mine


# -- data --------------------------------------------------------------------------------------------


def check_global_batch_size(global_batch_size, argument="global_batch_size"):
    """The global batch must split evenly over the processes and their devices."""
    process = current_process()
    devices = len(_devices())
    if not isinstance(global_batch_size, int) or global_batch_size < 1 or global_batch_size % devices:
        raise ValueError(
            f"`{argument}` must be a positive multiple of the {devices} devices of this run "
            f"({process.count} processes); received {global_batch_size!r}."
        )
    return global_batch_size


def _devices():
    if keras.config.backend() == "jax":
        import jax

        return jax.devices()
    return [None]


def global_batches(data, global_batch_size, *, shuffle_seed=None, drop_remainder=True):
    """Batches a tf.data.Dataset of single examples into global batches and keeps this process's slice
    of each (the same order on every process: shuffled with `shuffle_seed`, reshuffled every epoch)."""
    import tensorflow as tf

    process = current_process()
    if shuffle_seed is not None:
        count = int(data.cardinality())  # negative when unknown
        data = data.shuffle(min(count, 10_000) if count > 0 else 10_000, shuffle_seed)
    data = data.batch(global_batch_size, drop_remainder=drop_remainder)
    if process.count > 1:
        per_process = global_batch_size // process.count
        start = process.index * per_process
        data = data.map(lambda *batch: tuple(part[start : start + per_process] for part in batch))
    return data.prefetch(tf.data.AUTOTUNE)


def _examples(data):
    import tensorflow as tf

    return data if isinstance(data, tf.data.Dataset) else tf.data.Dataset.from_tensor_slices(tuple(data))


def example_count(data):
    """How many examples a tf.data.Dataset holds (counted when its cardinality is unknown)."""
    count = int(data.cardinality())
    return count if count >= 0 else int(data.reduce(0, lambda total, *_: total + 1))


def weighted_batches(data, global_batch_size):
    """(batches, count): `data` ((x, y) arrays or a tf.data.Dataset of examples) as this process's slices of
    global batches of (x, y, weight), and how many examples it holds. Every example is counted exactly once
    on any number of processes: the last global batch is filled with zero-weight copies of the first."""
    data = _examples(data)
    count = example_count(data)
    weighted = data.map(lambda x, y: (x, y, 1.0))
    padding = data.take(1).repeat(-count % global_batch_size).map(lambda x, y: (x, y, 0.0))
    return global_batches(weighted.concatenate(padding), global_batch_size), count


def evaluate(model, data, global_batch_size=64):
    """`model.evaluate` on `data` ((x, y) arrays or a tf.data.Dataset of examples) as a dict, on any number
    of processes (see `weighted_batches`; the metrics must be compiled as `weighted_metrics`, as `fit` does)."""
    batches, count = weighted_batches(data, global_batch_size)
    scores = model.evaluate(batches, verbose=0, return_dict=True)
    # Keras' loss is sum(weight * loss) / examples in the batch: the padding counted in the denominator
    scores["loss"] *= (count + -count % global_batch_size) / count
    return scores


# -- checkpoints -------------------------------------------------------------------------------------


def _state(model):
    """The variables a resumed run needs: the model's (BN statistics too), then the optimizer's."""
    return list(model.weights) + list(model.optimizer.variables)


def _state_names(model):
    """The names of `_state(model)`, less the optimizer's own name (Keras numbers it per session: adam_1)."""
    return [variable.path for variable in model.weights] + [
        variable.path.split("/", 1)[-1] for variable in model.optimizer.variables
    ]


class EpochCheckpoint(keras.callbacks.Callback):
    """After every epoch, this process's weights and optimizer state to
    `directory/process-I/epoch-NNNN.npz` (written atomically, the last `keep` kept). `restore(model)`
    loads the newest epoch that every process has and returns it (0 with no checkpoint)."""

    def __init__(self, directory, keep=2):
        super().__init__()
        self.directory = os.fspath(directory)
        self.keep = keep
        self.process = current_process()

    def _own(self):
        return os.path.join(self.directory, f"process-{self.process.index}")

    def _epochs(self, directory):
        names = glob.glob(os.path.join(directory, "epoch-*.npz"))
        return sorted(int(os.path.basename(name)[6:-4]) for name in names)

    def on_epoch_end(self, epoch, logs=None):
        own = self._own()
        os.makedirs(own, exist_ok=True)
        state = _state(self.model)
        arrays = {f"v{index}": keras.ops.convert_to_numpy(variable.value) for index, variable in enumerate(state)}
        arrays["paths"] = np.array(_state_names(self.model))
        with files.atomic_file(os.path.join(own, f"epoch-{epoch + 1:04d}.npz"), suffix=".npz") as handle:
            np.savez(handle, epoch=np.int64(epoch + 1), **arrays)
        for old in self._epochs(own)[: -self.keep]:
            os.remove(os.path.join(own, f"epoch-{old:04d}.npz"))

    def restore(self, model):
        epochs = self._epochs(self._own())
        agreed = int(_allgather(np.int64(epochs[-1] if epochs else 0)).min())
        if agreed == 0:
            return 0
        if agreed not in epochs:  # this process's files are older than what the others agree on
            raise RuntimeError(f"Process {self.process.index} has no checkpoint of epoch {agreed} in {self._own()}.")
        model.optimizer.build(model.trainable_variables)
        state = _state(model)
        with np.load(os.path.join(self._own(), f"epoch-{agreed:04d}.npz"), allow_pickle=False) as saved:
            paths = [str(path) for path in saved["paths"]]
            if paths != _state_names(model):
                raise ValueError(
                    f"The checkpoint in {self.directory} was written by another model or optimizer: "
                    "start with another checkpoint directory (--checkpoint-dir) or remove it."
                )
            for index, variable in enumerate(state):
                variable.assign(saved[f"v{index}"])
        return agreed

    def remove(self):
        """Removes this process's checkpoints (and the directory once every process's are gone)."""
        shutil.rmtree(self._own(), ignore_errors=True)
        with contextlib.suppress(OSError):
            os.rmdir(self.directory)


# -- fit ---------------------------------------------------------------------------------------------


def _scope(strategy):
    """Where to build: the TensorFlow strategy's scope, or (JAX) the data-parallel distribution made the
    global one (so that fit, evaluate and predict afterwards use it too)."""
    if keras.config.backend() == "tensorflow":
        import tensorflow as tf

        return (strategy or tf.distribute.get_strategy()).scope()
    if strategy is not None:
        raise ValueError(f"`strategy` is a TensorFlow strategy; the {keras.config.backend()} backend takes none.")
    if keras.config.backend() == "jax" and keras.distribution.distribution() is None:
        distribution = data_parallel()
        if distribution is not None:
            keras.distribution.set_distribution(distribution)
    return contextlib.nullcontext()


def fit(
    build,
    x,
    y=None,
    *,
    strategy=None,
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    epochs=1,
    global_batch_size=64,
    validation_data=None,
    checkpoint_dir=None,
    callbacks=(),
    verbose="auto",
    seed=0,
):
    """Builds `build()` and compiles it where the backend distributes it (module note), then fits it on
    (x, y) in global batches of `global_batch_size`. `optimizer`: a name, a config, or a function making
    one (an optimizer made before the distribution is set has variables on one device: JAX refuses it).
    With `checkpoint_dir`, resumes after the newest checkpointed epoch and checkpoints every epoch. Only
    the chief process prints. `validation_data` is padded like `evaluate`'s, so its accuracy is exact and
    its loss is scaled by examples / padded examples. Returns (model, history); `history.epoch` lists the
    epochs this call ran."""
    import tensorflow as tf

    process = current_process()
    with _scope(strategy):
        model = build()
        optimizer = optimizer() if callable(optimizer) else keras.optimizers.get(optimizer)
        # weighted: `evaluate` and the validation data pad the last global batch with zero-weight examples
        model.compile(optimizer=optimizer, loss=loss, weighted_metrics=list(metrics))
        if (y is None) != isinstance(x, tf.data.Dataset):
            raise ValueError("Give `x` and `y` as arrays, or `x` as a tf.data.Dataset of (image, label) examples.")
        if keras.config.backend() == "jax":
            check_global_batch_size(global_batch_size)
        examples = x if y is None else _examples((x, y))
        # several devices: every batch is split evenly, so the last partial one is dropped (reshuffled each epoch)
        data = global_batches(examples, global_batch_size, shuffle_seed=seed, drop_remainder=len(_devices()) > 1)
        if validation_data is not None:
            validation_data = weighted_batches(validation_data, global_batch_size)[0]
        callbacks = list(callbacks)
        initial_epoch = 0
        if checkpoint_dir is not None:
            checkpoint = EpochCheckpoint(checkpoint_dir)
            initial_epoch = checkpoint.restore(model)
            callbacks.append(checkpoint)
            if initial_epoch and process.chief and verbose:
                print(f"Resuming after epoch {initial_epoch} from the checkpoint in {checkpoint_dir}", flush=True)
        history = model.fit(
            data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data,
            callbacks=callbacks,
            shuffle=False,  # the batches are shuffled above, the same way on every process
            verbose=verbose if process.chief else 0,
        )
    return model, history


# -- `keras-famous train`: a catalog model on the digits or a folder of images ------------------------

WEIGHTS_CLASSES = {"imagenet": 1000, "digits": 10}  # a weights file is taken to fit the dataset's classes


@dataclasses.dataclass(frozen=True)
class TrainReport:
    """What `train` did: the model file (written by the chief), the epochs this run trained (after
    `resumed_after`), the test split's accuracy and loss, and the weights' digest (equal on every process)."""

    output: str
    epochs_run: tuple
    resumed_after: int
    accuracy: float
    loss: float
    test_examples: int
    processes: int
    weights_sha256: str


def _input_shape(spec, dataset, image_size):
    """The digits at 32x32 (one channel for LeNet-5, else three, at least the network's smallest side); a
    folder of images at `image_size` (a side) or the network's default size."""
    height, width, channels = spec.contract.default_shape
    if dataset == "digits":
        side = max(32, spec.contract.min_size)
        return (side, side, channels)
    if image_size is None:
        return (height, width, channels)
    if not isinstance(image_size, int) or not spec.contract.min_size <= image_size:
        raise ValueError(
            f"`image_size` must be an integer side of at least {spec.contract.min_size} for {spec.name}; "
            f"received {image_size!r}."
        )
    if spec.contract.flatten_top and image_size != height:
        raise ValueError(f"`image_size` must be {height} for {spec.name}: its top flattens a fixed-size map.")
    return (image_size, image_size, channels)


def _data(dataset, input_shape, seed):
    """(train, test, classes): tf.data.Datasets of (pixels [0, 255] at `input_shape`, label) examples."""
    import tensorflow as tf

    if dataset != "digits":
        train_data, test_data, class_names = datasets.image_folder(
            dataset, input_shape[:2], channels=input_shape[2], seed=seed
        )
        return train_data, test_data, len(class_names)
    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32(pixels=True)

    def fit_to_input(images, labels):
        images = tf.image.resize(images, input_shape[:2]) if images.shape[1:3] != input_shape[:2] else images
        return tf.repeat(images, input_shape[2], axis=-1) if input_shape[2] == 3 else images, labels

    train_data = tf.data.Dataset.from_tensor_slices((x_train, y_train)).map(fit_to_input)
    test_data = tf.data.Dataset.from_tensor_slices((x_test, y_test)).map(fit_to_input)
    return train_data, test_data, 10


def _build(spec, variant, classes, input_shape, weights, classifier_activation):
    """The model on raw pixels (its variant's preprocessing as the first layer; from scratch: 'digits' for one
    channel, 'tf' for three). Weights for as many classes as the dataset load whole; ImageNet weights get a
    new classifier (the whole network stays trainable, BatchNormalization statistics frozen)."""
    mode = spec.variant(variant)[1].preprocessing or ("digits" if input_shape[2] == 1 else "tf")
    options = dict(input_shape=input_shape, include_preprocessing=mode, weights=weights)
    if weights is None or WEIGHTS_CLASSES.get(weights, classes) == classes:
        return registry.build_variant(
            spec.name, variant, classes=classes, classifier_activation=classifier_activation, **options
        )
    backbone = registry.build_variant(spec.name, variant, include_top=False, pooling="avg", **options)
    model = transfer.classifier(backbone, classes, classifier_activation=classifier_activation)
    transfer.unfreeze(model)
    return model


@dataclasses.dataclass(frozen=True)
class TrainPlan:
    spec: object
    variant: str
    input_shape: tuple
    output: str
    checkpoint_dir: str


def _label(dataset):
    return "digits" if dataset == "digits" else os.path.basename(os.path.normpath(os.fspath(dataset)))


def check_train_arguments(
    model_name, dataset, *, variant, output, overwrite, checkpoint_dir, image_size=None, overwrite_flag=None
):
    """A `TrainPlan` for `train`, or the error naming the argument: checked once by the launcher before any
    worker starts, and by each worker."""
    spec = registry.get_spec(model_name)
    variant, _ = spec.variant(variant)
    if dataset != "digits" and not os.path.isdir(dataset):
        raise ValueError(f"`dataset` {dataset!r} is neither 'digits' nor a folder of images (one subfolder per class).")
    output = os.path.abspath(output or f"{spec.name}-{_label(dataset)}.keras")
    if not output.endswith(".keras"):
        raise ValueError(f"`output` must end in .keras (the whole model); received {output!r}.")
    files.check_writable_target(output, overwrite, overwrite_flag or "overwrite=True")
    checkpoint_dir = os.path.abspath(checkpoint_dir or f"{output}.checkpoints")
    return TrainPlan(spec, variant, _input_shape(spec, dataset, image_size), output, checkpoint_dir)


def train(
    model_name,
    dataset="digits",
    *,
    epochs=3,
    global_batch_size=32,
    weights=None,
    variant=None,
    output=None,
    overwrite=False,
    checkpoint_dir=None,
    learning_rate=1e-3,
    image_size=None,
    seed=0,
    verbose=True,
):
    """Trains a catalog model on the digits ("digits") or a folder of images (`dataset`), on this process
    and every process of the run (`initialize()` reads the KERAS_DISTRIBUTION_* variables). The model takes
    raw pixels. Checkpoints every epoch in `checkpoint_dir` (default OUTPUT.checkpoints) and resumes from it;
    the chief saves `output` (default MODEL-DATASET.keras) and the checkpoints are removed once it is
    written. Returns a `TrainReport`."""
    process = initialize()
    plan = check_train_arguments(
        model_name,
        dataset,
        variant=variant,
        output=output,
        overwrite=overwrite,
        checkpoint_dir=checkpoint_dir,
        image_size=image_size,
    )
    spec, variant, input_shape, output = plan.spec, plan.variant, plan.input_shape, plan.output
    train_data, test_data, classes = _data(dataset, input_shape, seed)
    keras.utils.set_random_seed(seed)
    mirrored = strategy("auto") if keras.config.backend() == "tensorflow" else None  # several GPUs: mirrored
    if process.chief and verbose:
        devices = mirrored.num_replicas_in_sync if mirrored else len(_devices())
        print(
            f"Training {spec.name} ({variant}) on {_label(dataset)}, {classes} classes, {keras.config.backend()} "
            f"backend: {devices} device{'s' if devices > 1 else ''} in {process.count} "
            f"process{'es' if process.count > 1 else ''}, global batch {global_batch_size}",
            flush=True,
        )
    # trained on logits: off TensorFlow, Keras' crossentropy of a softmax output clips the probabilities
    # at 1e-7, so a confidently wrong prediction gets no gradient (TensorFlow reads the softmax's logits)
    model, history = fit(
        lambda: _build(spec, variant, classes, input_shape, weights, classifier_activation=None),
        train_data,
        strategy=mirrored,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=lambda: keras.optimizers.Adam(learning_rate),
        epochs=epochs,
        global_batch_size=global_batch_size,
        checkpoint_dir=plan.checkpoint_dir,
        verbose=(1 if sys.stdout.isatty() or os.environ.get(PROGRESS_BAR) == "1" else 2) if verbose else 0,
        seed=seed,
    )
    scores = evaluate(model, test_data, global_batch_size)
    digest = check_identical_weights(model)
    trained, model = model, _build(spec, variant, classes, input_shape, None, classifier_activation="softmax")
    model.set_weights(trained.get_weights())
    if process.chief:
        os.makedirs(os.path.dirname(output), exist_ok=True)
        with files.atomic_path(output, suffix=".keras") as tmp:
            model.save(tmp)
    _allgather(np.int64(0))  # every process waits for the chief's file before the checkpoints go
    EpochCheckpoint(plan.checkpoint_dir).remove()
    resumed_after = history.epoch[0] if history.epoch else epochs
    report = TrainReport(
        output, tuple(history.epoch), resumed_after, float(scores["accuracy"]), float(scores["loss"]),
        example_count(test_data), process.count, digest,
    )  # fmt: skip
    if process.chief and verbose:
        print(
            f"test accuracy {report.accuracy:.4f} (loss {report.loss:.4f}) on {report.test_examples} images"
            + (
                f"; weights identical on the {process.count} processes (sha256 {digest[:12]})"
                if process.count > 1
                else ""
            )
            + f"; saved {output}",
            flush=True,
        )
    return report


# -- the launcher of `keras-famous train --workers N` ------------------------------------------------


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
    """Copies the chief's output to `out` as it comes (progress bars redraw with carriage returns), less
    gloo's C++ "[Gloo] Rank 0 is connected" line."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    while chunk := os.read(stream.fileno(), 65536):
        pending += decoder.decode(chunk)
        cut = max(pending.rfind("\n"), pending.rfind("\r")) + 1
        lines, pending = pending[:cut].splitlines(keepends=True), pending[cut:]
        out.write("".join(line for line in lines if not line.startswith("[Gloo] ")))
        out.flush()
    out.write(pending + decoder.decode(b"", final=True))
    out.flush()
    stream.close()


def launch(command, workers, *, env=None, poll_seconds=0.2, grace_seconds=10, out=sys.stdout):
    """Runs `command` (an argv list) as `workers` processes of one JAX run on this machine, joined through
    a coordinator on 127.0.0.1. The chief's output is forwarded to `out`; every worker's stderr goes to a log.
    When a worker dies the others are stopped and a message names it (with its log's end when it failed
    with an error). Returns 0 when every worker succeeded, else 1."""
    port = free_port()
    logs = tempfile.mkdtemp(prefix="keras-famous-train-")
    # unbuffered: the chief's progress shows as it happens; faulthandler: a worker aborted by JAX's
    # coordination service leaves its Python stack in its log
    base = dict(os.environ if env is None else env, KERAS_BACKEND="jax", PYTHONUNBUFFERED="1", PYTHONFAULTHANDLER="1")
    base.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if getattr(out, "isatty", lambda: False)():
        base[PROGRESS_BAR] = "1"  # the chief writes to a pipe, but the user watches a terminal
    base.update(KERAS_DISTRIBUTION_JOB_ADDRESSES=f"127.0.0.1:{port}", KERAS_DISTRIBUTION_NUM_PROCESSES=str(workers))
    processes, forwarder = [], None
    try:
        for index in range(workers):
            with open(os.path.join(logs, f"worker-{index}.log"), "w") as log:
                processes.append(
                    subprocess.Popen(
                        command,
                        env=dict(base, KERAS_DISTRIBUTION_PROCESS_ID=str(index)),
                        stdout=subprocess.PIPE if index == 0 else subprocess.DEVNULL,
                        stderr=log,
                    )
                )
        forwarder = threading.Thread(target=_forward, args=(processes[0].stdout, out), daemon=True)
        forwarder.start()
        pids = ", ".join(f"worker {index}: pid {process.pid}" for index, process in enumerate(processes))
        print(f"Started {workers} workers on the JAX backend, coordinator 127.0.0.1:{port} ({pids})", file=out)
        out.flush()
        failed = _wait_for_all(processes, poll_seconds)
    except BaseException:
        _stop(processes, grace_seconds)
        raise
    if failed is None:
        forwarder.join()
        shutil.rmtree(logs, ignore_errors=True)
        return 0
    index, code = failed
    _stop(processes, grace_seconds)
    forwarder.join(grace_seconds)
    log = os.path.join(logs, f"worker-{index}.log")
    tail = f"\n--- the end of {log} ---\n{_tail(log)}" if code > 0 else ""
    print(
        f"keras-famous train: worker {index} (pid {processes[index].pid}) {_how_it_ended(code)}; the other workers "
        f"were stopped. Run the same command again to resume from the last checkpoint. Worker logs: {logs}{tail}",
        file=sys.stderr,
    )
    return 1


def _wait_for_all(processes, poll_seconds):
    """None when every process exits with 0; else (index, code) of the first to fail (a killed one first
    when several are found failed at once: the others usually fail because it died)."""
    while True:
        codes = [process.poll() for process in processes]
        failures = [(code >= 0, index, code) for index, code in enumerate(codes) if code not in (None, 0)]
        if failures:
            _, index, code = min(failures)
            return index, code
        if all(code == 0 for code in codes):
            return None
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
