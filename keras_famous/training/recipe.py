"""`keras-famous train`: a catalog model on the digits or a folder of images, from scratch or fine-tuned from
pretrained weights, on this process and every process of the run.

From pretrained weights (`imagenet`, `digits` or a file of any class count) it is the Keras transfer-learning
recipe, `transfer.fine_tune`: the backbone (`include_top=False`, weights adapted to the input's channels) under a
new classifier trains `epochs` with the backbone frozen (BatchNormalization in inference mode), then
`fine_tune_epochs` unfrozen from `unfreeze_from` (default: the start of the last stage) at `learning_rate / 100`.
From scratch the catalog model with its own top trains whole. Either way it trains on logits (off TensorFlow,
Keras' crossentropy of a softmax output clips the probabilities at 1e-7, so a confidently wrong prediction gets
no gradient) and the file saved is the trained model with a softmax after it.
"""

import dataclasses
import os
import sys

import keras
import numpy as np

from ..arguments import named
from .. import datasets, files, model_files, precision, registry, transfer
from .. import weights as weights_lib
from .checkpoints import EpochCheckpoint, differing_settings
from .data import array_batches, read_folder, training_batches
from .distribution import allgather, check_identical_weights, devices, initialize, scope, strategy
from .fitting import evaluate

PROGRESS_BAR = "KERAS_FAMOUS_PROGRESS_BAR"  # set by the launcher for a chief whose output reaches a terminal
PRECISIONS = ("auto", "float32", "mixed_float16", "mixed_bfloat16")
# the settings a checkpoint records and the flag that sets each: a resumed run must have the same
SETTING_FLAGS = {
    "model": "MODEL", "variant": "--variant", "dataset": "--dataset", "classes": "--dataset (its classes)",
    "global_batch_size": "--batch", "learning_rate": "--learning-rate", "weights": "--weights",
    "augment": "--no-augment", "image_size": "--image-size", "precision": "--precision", "seed": "--seed",
    "head_epochs": "--epochs", "unfreeze_from": "--unfreeze-from",
}  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TrainReport:
    """What `train` did: the model file (written by the chief), the epochs this run trained (after
    `resumed_after`), the test split's accuracy and loss (and after the head phase, when it ran here), the class
    names, and the weights' digest (equal on every process)."""

    output: str
    epochs_run: tuple
    resumed_after: int
    accuracy: float
    loss: float
    test_examples: int
    processes: int
    weights_sha256: str
    class_names: tuple = ()
    head_accuracy: float = None


@dataclasses.dataclass(frozen=True)
class TrainPlan:
    spec: object
    variant: str
    input_shape: tuple
    output: str
    checkpoint_dir: str


def _input_shape(spec, dataset, image_size, pretrained):
    """The digits at 32x32 (one channel for LeNet-5, else three, at least the network's smallest side); a
    folder of images at `image_size` (a side) or the network's default size. A flattening top (trained from
    scratch) needs its default size; fine-tuning puts a pooled classifier on any size."""
    height, width, channels = spec.contract.default_shape
    if dataset == "digits":
        side = max(32, spec.contract.min_size)
        return (side, side, channels)
    if image_size is None:
        return (height, width, channels)
    if not isinstance(image_size, int) or not spec.contract.min_size <= image_size:
        raise ValueError(
            f"{named('image_size')} must be an integer side of at least {spec.contract.min_size} for {spec.name}; "
            f"received {image_size!r}."
        )
    if spec.contract.flatten_top and image_size != height and not pretrained:
        raise ValueError(
            f"{named('image_size')} must be {height} for {spec.name} trained from scratch: its top flattens a fixed-size map "
            f"(fine-tuning from {named('weights')} puts a pooled classifier on any size)."
        )
    return (image_size, image_size, channels)


def _label(dataset):
    return "digits" if dataset == "digits" else os.path.basename(os.path.normpath(os.fspath(dataset)))


def check_train_arguments(
    model_name,
    dataset,
    *,
    variant,
    output,
    overwrite,
    checkpoint_dir,
    image_size=None,
    weights=None,
    precision_policy="auto",
):
    """A `TrainPlan` for `train`, or the error naming the argument: checked once by the launcher before any
    worker starts, and by each worker."""
    spec = registry.get_spec(model_name)
    variant, _ = spec.variant(variant)
    if dataset != "digits" and not os.path.isdir(dataset):
        raise ValueError(
            f"{named('dataset')} {dataset!r} is neither 'digits' nor a folder of images (one subfolder per class)."
        )
    if precision_policy not in PRECISIONS:
        raise ValueError(f"{named('precision_policy')} must be one of {PRECISIONS}; received {precision_policy!r}.")
    weights_lib.check_weights_argument(spec.name, weights, variant)
    output = os.path.abspath(output or f"{spec.name}-{_label(dataset)}.keras")
    if not output.endswith(".keras"):
        raise ValueError(f"{named('output')} must end in .keras (the whole model); received {output!r}.")
    files.check_writable_target(output, overwrite)
    checkpoint_dir = os.path.abspath(checkpoint_dir or f"{output}.checkpoints")
    shape = _input_shape(spec, dataset, image_size, pretrained=weights is not None)
    return TrainPlan(spec, variant, shape, output, checkpoint_dir)


def _digits(input_shape):
    """(train, test) (x, y) arrays of the digits as pixels [0, 255] at `input_shape`."""
    import tensorflow as tf

    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32(pixels=True)

    def fit_to_input(images):
        images = tf.image.resize(images, input_shape[:2]).numpy() if images.shape[1:3] != input_shape[:2] else images
        return np.repeat(images, input_shape[2], axis=-1) if input_shape[2] != 1 else images

    return (fit_to_input(x_train), y_train), (fit_to_input(x_test), y_test)


def _preprocessing_mode(spec, variant, channels):
    return spec.variant(variant)[1].preprocessing or ("digits" if channels == 1 else "tf")


def build_for_training(spec, variant, classes, input_shape, weights):
    """The model `train` trains, on raw pixels (its weights' preprocessing as its first layer), with logits out:
    from scratch the catalog model with its own top; from `weights` a new classifier on the backbone."""
    options = dict(input_shape=input_shape, include_preprocessing=_preprocessing_mode(spec, variant, input_shape[2]))
    if weights is None:
        return registry.build_variant(spec.name, variant, classes=classes, classifier_activation=None, **options)
    backbone = registry.build_variant(spec.name, variant, include_top=False, pooling="avg", weights=weights, **options)
    return transfer.classifier(backbone, classes, classifier_activation=None, name=f"{spec.name.lower()}_fine_tuned")


def with_softmax(model):
    """The trained logits model with a float32 softmax after it: the same layers and weights (no copy)."""
    probabilities = keras.layers.Activation("softmax", dtype="float32", name="probabilities")(model.outputs[0])
    return keras.Model(model.inputs, probabilities, name=model.name)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How `train` trains (see the module note): `epochs` (the head's with `weights`), `fine_tune_epochs` from
    `unfreeze_from` at `learning_rate / 100`, global batches of `global_batch_size`."""

    epochs: int
    fine_tune_epochs: int
    unfreeze_from: object
    global_batch_size: int
    learning_rate: float
    weights: object
    augment: bool
    seed: int

    @property
    def pretrained(self):
        return self.weights is not None

    def settings(self, plan, dataset, class_names, image_size, policy):
        """What a checkpoint records, keyed as SETTING_FLAGS: a resumed run must have the same."""
        weights = self.weights
        return {
            "model": plan.spec.name, "variant": plan.variant,
            "dataset": dataset if dataset == "digits" else os.path.abspath(dataset), "classes": list(class_names),
            "global_batch_size": self.global_batch_size, "learning_rate": self.learning_rate,
            "weights": os.path.abspath(weights) if self.pretrained and os.path.isfile(weights) else weights,
            "augment": self.augment, "image_size": image_size, "precision": policy, "seed": self.seed,
            # the head phase's length places the switch to fine-tuning; a run from scratch may be extended
            "head_epochs": self.epochs if self.pretrained else None,
            "unfreeze_from": self.unfreeze_from if self.pretrained else None,
        }  # fmt: skip


@dataclasses.dataclass(frozen=True)
class TrainData:
    """This process's training batches, the test split ((x, y) arrays or (paths, labels)) and how to read it."""

    class_names: tuple
    train: object
    test: tuple
    test_options: dict


def _load_data(dataset, plan, recipe, chief_prints):
    """The digits, or a folder listed (its summary printed by the chief) and read as this process's share."""
    size, channels = plan.input_shape[:2], plan.input_shape[2]
    batch, seed = recipe.global_batch_size, recipe.seed
    if dataset == "digits":
        train, test = _digits(plan.input_shape)
        classes = tuple(str(digit) for digit in range(10))
        return TrainData(classes, array_batches(*train, batch, seed=seed), test, {})
    folder = read_folder(dataset, seed=seed)
    if chief_prints:
        print(folder.summary(), flush=True)
    batches = training_batches(*folder.train, batch, size=size, channels=channels, seed=seed, augment=recipe.augment)
    return TrainData(folder.class_names, batches, folder.test, dict(size=size, channels=channels))


def check_resumable(checkpoint, settings, restart):
    """Refuses to resume from checkpoints written with other settings, naming each differing flag (`restart`:
    start over instead, removing them)."""
    if restart:
        checkpoint.remove()
        return
    saved = checkpoint.saved_settings()
    if saved is None:
        return
    differing = differing_settings(saved, settings)
    if differing:
        changes = "; ".join(
            f"{SETTING_FLAGS.get(key, key)}: {saved.get(key)!r} then, {settings.get(key)!r} now" for key in differing
        )
        raise ValueError(
            f"The checkpoints in {checkpoint.directory} were written by a run with other settings ({changes}). "
            "Run with the same flags to resume, or add --restart to start over (the checkpoints are removed)."
        )


def _verbosity(verbose):
    if not verbose:
        return 0
    return 1 if sys.stdout.isatty() or os.environ.get(PROGRESS_BAR) == "1" else 2


def train(
    model_name,
    dataset="digits",
    *,
    epochs=3,
    fine_tune_epochs=0,
    unfreeze_from="last_stage",
    global_batch_size=32,
    weights=None,
    variant=None,
    output=None,
    overwrite=False,
    checkpoint_dir=None,
    restart=False,
    learning_rate=1e-3,
    image_size=None,
    augment=None,
    precision_policy="auto",
    seed=0,
    verbose=True,
):
    """Trains a catalog model on the digits ("digits") or a folder of images (`dataset`; `data.read_folder`),
    on this process and every process of the run (`initialize()` reads the KERAS_DISTRIBUTION_* variables); see
    the module note for the recipe. The model takes raw pixels. Checkpoints every epoch in `checkpoint_dir`
    (default OUTPUT.checkpoints) with the run's settings, and resumes from it when they match (`restart`: starts
    over); the chief saves `output` (default MODEL-DATASET.keras) and the checkpoints are removed once it is
    written. `augment` (default: on for folders) crops and flips the training images. `precision_policy`: "auto"
    (mixed_float16 on a GPU, float32 otherwise) or a policy; the classifier computes in float32. Returns a
    `TrainReport`."""
    process = initialize()
    plan = check_train_arguments(
        model_name,
        dataset,
        variant=variant,
        output=output,
        overwrite=overwrite,
        checkpoint_dir=checkpoint_dir,
        image_size=image_size,
        weights=weights,
        precision_policy=precision_policy,
    )
    augment = dataset != "digits" if augment is None else bool(augment)
    recipe = Recipe(epochs, fine_tune_epochs, unfreeze_from, global_batch_size, learning_rate, weights, augment, seed)
    chief_prints = process.chief and verbose
    data = _load_data(dataset, plan, recipe, chief_prints)
    policy = precision.choose_policy(precision_policy)
    settings = recipe.settings(plan, dataset, data.class_names, image_size, policy)
    checkpoint = EpochCheckpoint(plan.checkpoint_dir, settings=settings)
    check_resumable(checkpoint, settings, restart)
    keras.utils.set_random_seed(seed)
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        mirrored = strategy("auto") if keras.config.backend() == "tensorflow" else None  # several GPUs: mirrored
        if chief_prints:
            print(_plan_line(plan, dataset, recipe, data, process, policy, mirrored), flush=True)
        return _run(process, plan, recipe, data, checkpoint, mirrored, verbose)
    finally:
        keras.config.set_dtype_policy(previous_policy)


def _plan_line(plan, dataset, recipe, data, process, policy, mirrored):
    count = mirrored.num_replicas_in_sync if mirrored else len(devices())
    how = (
        f"new head on {recipe.weights} weights, {recipe.epochs} epochs backbone frozen + {recipe.fine_tune_epochs} "
        "fine-tuning"
        if recipe.pretrained
        else "from scratch"
    )
    return (
        f"Training {plan.spec.name} ({plan.variant}) on {_label(dataset)}, {len(data.class_names)} classes, {how}, "
        f"{keras.config.backend()} backend: {count} device{'s' if count > 1 else ''} in {process.count} "
        f"process{'es' if process.count > 1 else ''}, global batch {recipe.global_batch_size}, {policy}"
    )


def _run(process, plan, recipe, data, checkpoint, mirrored, verbose):
    chief_prints = process.chief and verbose
    batch, test = recipe.global_batch_size, data.test
    head_scores = {}
    with scope(mirrored):
        model = build_for_training(plan.spec, plan.variant, len(data.class_names), plan.input_shape, recipe.weights)
        initial_epoch = checkpoint.latest_epoch()

        def on_phase_start(model, phase):
            if initial_epoch >= phase.start and initial_epoch:
                # at the switch to fine-tuning the head phase's optimizer state has no use: the weights only
                checkpoint.restore(model, initial_epoch, optimizer=initial_epoch > phase.start)
                if chief_prints:
                    print(f"Resuming after epoch {initial_epoch} from the checkpoint in {checkpoint.directory}")
            if phase.name == "fine_tune" and recipe.pretrained and len(test[1]) and initial_epoch <= phase.start:
                head_scores.update(evaluate(model, test, batch, from_logits=True, **data.test_options))
                if chief_prints:
                    print(f"head only: test accuracy {head_scores['accuracy']:.4f}; fine-tuning", flush=True)

        histories = transfer.fine_tune(
            model,
            data.train,
            head_epochs=recipe.epochs if recipe.pretrained else 0,
            fine_tune_epochs=recipe.fine_tune_epochs if recipe.pretrained else recipe.epochs,
            unfreeze_from=recipe.unfreeze_from if recipe.pretrained else None,
            head_learning_rate=recipe.learning_rate,
            fine_tune_learning_rate=recipe.learning_rate / 100 if recipe.pretrained else recipe.learning_rate,
            keep_batchnorm_frozen=recipe.pretrained,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=(),
            weighted_metrics=["accuracy"],
            initial_epoch=initial_epoch,
            on_phase_start=on_phase_start,
            callbacks=[checkpoint],
            shuffle=False,  # the batches are shuffled by `data`, the same way on every process
            verbose=_verbosity(verbose) if process.chief else 0,
        )
        scores = {"accuracy": float("nan"), "loss": float("nan")}
        if len(test[1]):
            scores = evaluate(model, test, batch, from_logits=True, **data.test_options)
    digest = check_identical_weights(model)
    if process.chief:
        os.makedirs(os.path.dirname(plan.output), exist_ok=True)
        with files.atomic_path(plan.output, suffix=".keras") as tmp:
            with_softmax(model).save(tmp)
            model_files.write_record(
                tmp, class_names=data.class_names, resize="stretch", model=plan.spec.name, variant=plan.variant
            )
    allgather(np.int64(0))  # every process waits for the chief's file before the checkpoints go
    checkpoint.remove()
    epochs_run = tuple(epoch for history in histories if history is not None for epoch in history.epoch)
    report = TrainReport(
        plan.output, epochs_run, initial_epoch, scores["accuracy"], scores["loss"], len(test[1]), process.count,
        digest, tuple(data.class_names), head_scores.get("accuracy"),
    )  # fmt: skip
    if chief_prints:
        print(
            f"test accuracy {report.accuracy:.4f} (loss {report.loss:.4f}) on {report.test_examples} images"
            + (
                f"; weights identical on the {process.count} processes (sha256 {digest[:12]})"
                if process.count > 1
                else ""
            )
            + f"; saved {plan.output}",
            flush=True,
        )
    return report
