"""Where a run happens: its processes (JAX: `initialize`, `current_process`), devices, the data-parallel
distribution or TensorFlow strategy it builds under, and what its processes exchange (`allgather`).

- **JAX**: `keras.distribution.DataParallel` over every device of every process (`jax.devices()`).
  Processes join with `initialize()` (arguments or Keras' `KERAS_DISTRIBUTION_JOB_ADDRESSES`,
  `KERAS_DISTRIBUTION_NUM_PROCESSES`, `KERAS_DISTRIBUTION_PROCESS_ID`); on CPUs they talk through gloo.
- **TensorFlow**: `tf.distribute.MirroredStrategy` on one machine (every GPU, or logical CPUs made by
  `split_cpu`). `MultiWorkerMirroredStrategy` does not run Keras 3's `fit` (keras-team/keras#20585,
  tensorflow/tensorflow#72388), so it is not offered: use the JAX backend across processes.
- **torch**: one device.
"""

import contextlib
import dataclasses
import hashlib
import os

import keras
import numpy as np

from ..arguments import named

JOINING = "KERAS_FAMOUS_JOIN_DIR"  # set by the launcher: where each worker marks that it reached and joined the run

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
        _mark_joining(process_id, "reached")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        keras.distribution.initialize(job_addresses, num_processes, process_id)
        _mark_joining(process_id, "joined")
    return current_process()


def _mark_joining(process_id, stage):
    """For the launcher's join timeout: worker-I.reached (about to connect), worker-I.joined (connected)."""
    directory = os.environ.get(JOINING)
    if directory:
        with contextlib.suppress(OSError):
            open(os.path.join(directory, f"worker-{process_id}.{stage}"), "w").close()


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


def allgather(array):
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
    digests = [bytes(row).hex() for row in allgather(np.frombuffer(bytes.fromhex(mine), dtype=np.uint8))]
    differing = [index for index, digest in enumerate(digests) if digest != digests[0]]
    if differing:
        raise RuntimeError(f"The weights of processes {differing} differ from the chief's after training.")
    return mine


def check_global_batch_size(global_batch_size, argument="global_batch_size"):
    """The global batch must split evenly over the processes and their devices."""
    process = current_process()
    count = len(devices())
    if not isinstance(global_batch_size, int) or global_batch_size < 1 or global_batch_size % count:
        raise ValueError(
            f"{named(argument)} must be a positive multiple of the {count} devices of this run "
            f"({process.count} processes); received {global_batch_size!r}."
        )
    return global_batch_size


def devices():
    """The devices a run's batches are split over (JAX: of every process; other backends: one)."""
    if keras.config.backend() == "jax":
        import jax

        return jax.devices()
    return [None]


def scope(strategy=None):
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
