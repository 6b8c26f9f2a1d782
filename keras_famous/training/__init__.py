"""Training on one device, several devices, or several processes and machines.

distribution  processes, devices, the JAX data-parallel distribution or TensorFlow strategy, allgather
data          folder layouts and bad files, file-level shuffling, each process's share, augmentation
checkpoints   per-epoch checkpoints with the run's settings, fsync'ed, falling back past a corrupt one
fit           `fit` and `evaluate` (padding never counted)
recipe        `train`: `keras-famous train` (a new head, then fine-tuning; or from scratch)
launcher      `launch`: N local worker processes, stopped together (signals, join timeout)
"""

from .checkpoints import EpochCheckpoint
from .data import ImageFolder, read_folder, training_batches, weighted_batches
from .distribution import (
    ENVIRONMENT,
    MULTI_WORKER_UPSTREAM,
    Process,
    check_global_batch_size,
    check_identical_weights,
    current_process,
    data_parallel,
    initialize,
    split_cpu,
    strategy,
    weights_digest,
)
from .fitting import evaluate, fit
from .launcher import free_port, launch
from .recipe import PRECISIONS, TrainPlan, TrainReport, check_train_arguments, train

__all__ = [
    "ENVIRONMENT", "MULTI_WORKER_UPSTREAM", "PRECISIONS", "EpochCheckpoint", "ImageFolder", "Process", "TrainPlan",
    "TrainReport", "check_global_batch_size", "check_identical_weights", "check_train_arguments", "current_process",
    "data_parallel", "evaluate", "fit", "free_port", "initialize", "launch", "read_folder", "split_cpu", "strategy",
    "train", "training_batches", "weighted_batches", "weights_digest",
]  # fmt: skip
