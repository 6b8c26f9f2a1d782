"""One Keras backend's side of tests/test_backends.py: `python run_backend.py ROOT` with KERAS_BACKEND set.

The TensorFlow side (the test process) writes each case's weights files under ROOT/files and its inputs under
ROOT/inputs, then marks it ready (ROOT/ready/<case>; "all" once every file is written), so this process starts
while TensorFlow is still writing. It builds each case's model on its own backend, loads the files and writes
ROOT/<backend>/outputs.npz (one array per case, "case/key" for several) and ROOT/<backend>/report.json (per case:
counts, lists and the error, if any). The test process runs the same `run_cases` for TensorFlow's outputs of every
case but the builders (whose TensorFlow outputs are the random models' that wrote the files) and the exports, and
parametrizes its tests over the tables below.

Only keras_famous' public builders, loaders and helpers and Keras' public API are used; a case that raises is
recorded (its test shows the traceback) and the next one runs.
"""

import json
import os
import resource
import sys
import time
import traceback

import numpy as np

# Builders: one model per family and the layouts with their own operations, each at the smallest input it accepts
# (the test module checks that one pixel less is refused): (case id, model, variant, side, builder options).
BUILDS = (
    ("LeNet5", "LeNet5", None, 32, {}),  # PartialConv2D, TrainableSubsampling, EuclideanRBF
    ("AlexNet-original", "AlexNet", None, 67, {"classes": 3}),  # grouped convolutions, LocalResponseNormalization
    ("ZFNet", "ZFNet", None, 53, {"classes": 3}),
    ("NiN-cifar", "NiN", None, 8, {"classes": 3}),  # a "same" 3x3/2 average pool over an even side (4x4)
    ("VGG11", "VGG11", None, 32, {"classes": 3}),
    ("GoogLeNet", "GoogLeNet", None, 32, {"classes": 3}),
    ("ResNet18", "ResNet18", "torchvision", 32, {"classes": 10}),  # the file-format, transfer and export model
    ("ResNet50", "ResNet50", None, 32, {"classes": 3}),
    ("ResNeXt50", "ResNeXt50", None, 32, {"classes": 3}),
    ("ResNet50V2", "ResNet50V2", None, 32, {"classes": 3}),
    ("WideResNet50_2", "WideResNet50_2", None, 32, {"classes": 3}),
    ("InceptionV3", "InceptionV3", None, 75, {"classes": 3}),
    ("InceptionV4", "InceptionV4", None, 75, {"classes": 3}),
    ("InceptionResNetV2", "InceptionResNetV2", None, 75, {"classes": 3}),
    ("Xception", "Xception", None, 71, {"classes": 3}),
    ("DenseNet121", "DenseNet121", None, 32, {"classes": 3}),
    ("SqueezeNet1_1", "SqueezeNet1_1", None, 17, {"classes": 3}),
)
BUILD = {case[0]: case for case in BUILDS}
# JAX compiles every operation of every model (~8 s a deep one on 2 cores): there, one model per family plus
# ResNeXt's grouped convolutions; torch (eager, ~1 s a model) runs every case.
TORCH_ONLY = frozenset({"ResNet50", "ResNet50V2", "WideResNet50_2", "InceptionV4", "InceptionResNetV2"})
# Flattening tops take pretrained weights only at the default input size (the contract), so at the smallest size
# these load their file after building, through the loader `weights=` calls (registry.load_weights).
LOADED_AFTER_BUILDING = frozenset({"AlexNet-original", "ZFNet", "VGG11"})

# Weights files in every other format the package reads (each builder case loads a Keras 3 .weights.h5), written by
# the test process from the ResNet18 case's random weights (LeNet5's "digits" weights ship with the package as a
# legacy .h5): (case id, weights, builder options). Each builds the ResNet18 case (torchvision layout, 32x32,
# 10 classes) with `weights=` the file, on the case's input.
RESNET18 = "ResNet18"
FILES = (
    ("keras", "ResNet18.keras", {}),  # a Keras 3 model archive's weights
    ("legacy-h5", "ResNet18-numbered.h5", {}),  # keras.applications' layout, Keras 2-era names: matched by order
    ("safetensors", "ResNet18.safetensors", {}),  # torchvision's state dict, through the family's name map
    ("pth", "ResNet18.pth", {}),  # the same state dict saved by torch.save, read with weights_only=True
    ("pth-raw-pixels", "ResNet18.pth", {"include_preprocessing": True}),  # on pixels in [0, 255]
    ("digits", "digits", {}),  # LeNet5(weights="digits"): the package's legacy .h5, through the manifest
)
# Whole models TensorFlow saved as .keras, opened with keras.saving.load_model (the custom layers included).
SAVED_MODELS = ("LeNet5",)
# export.export of loaded builder cases on this backend: ResNet18 in every format; AlexNet's grouped convolutions
# (ONNX from torch) and LocalResponseNormalization (TFLite from JAX, which fails: test_backends.EXPORT_FAILURES).
EXPORTS = {"ResNet18": ("saved_model", "tflite", "onnx"), "AlexNet-original": ("tflite", "onnx")}


def runs_on(backend_name, case_id):
    """Whether `case_id` (a builder or export case) runs on `backend_name` (see TORCH_ONLY)."""
    return backend_name != "jax" or case_id not in TORCH_ONLY


# UnpaddedAveragePooling2D(3, strides=2, padding="same") on an odd and an even side: Keras' own AveragePooling2D
# averages padding into the even ones' last row and column on torch; and Caffe's pools (CaffePooling2D, NiN's and the
# Caffe model zoo variants'), max and average, on the same sides.
POOLING_SIDES = (7, 8)
CLASSIFIER = {"classes": 3, "variant": "torchvision", "input_shape": (32, 32, 3), "dropout": 0.0}
READY_TIMEOUT = 900


def backend():
    import keras

    return keras.backend.backend()


def files(root):
    return os.path.join(root, "files")


def wait_ready(root, name):
    """Waits until the TensorFlow side marked `name` (a builder case, or "all") ready."""
    marker, deadline = os.path.join(root, "ready", name), time.monotonic() + READY_TIMEOUT
    while not os.path.exists(marker):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the TensorFlow side did not mark {name!r} ready in {READY_TIMEOUT} s")
        time.sleep(0.1)


def load_input(root, key):
    return np.load(os.path.join(root, "inputs", f"{key}.npy"))


def infer(model, images, compiled=False):
    """The model's inference outputs as numpy. `compiled`: through `predict`, which on JAX compiles the whole
    graph once, where a call compiles every operation (the builders, each run once); eager elsewhere."""
    import keras

    if compiled and backend() == "jax":
        return model.predict(images, batch_size=len(images), verbose=0)
    return keras.tree.map_structure(keras.ops.convert_to_numpy, model(images, training=False))


def counts(model):
    """[all, trainable, non-trainable] parameter counts."""
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    return [model.count_params(), trainable, model.count_params() - trainable]


def build(case_id, weights=None, **options):
    """The builder case's model (random weights, or `weights` loaded)."""
    from keras_famous import registry

    _, name, variant, side, kwargs = BUILD[case_id]
    channels = registry.get_spec(name).input_shape[2]
    options = {"input_shape": (side, side, channels), "classifier_activation": None, **kwargs, **options}
    if weights is not None and case_id in LOADED_AFTER_BUILDING and options.get("include_top", True):
        return registry.load_weights(registry.build_variant(name, variant, **options), weights, name, variant)
    return registry.build_variant(name, variant, weights=weights, **options)


def case_weights(root, case_id):
    return os.path.join(files(root), f"{case_id}.weights.h5")


# ----------------------------------------------------------------------------------------------------- the cases
# A runner gets its subject (a case id of the tables above), fills `out` ({"": output} or {key: output}, saved as
# "case id" or "case id/key") and `info` (JSON), and may raise.
def _builder(root, subject, out, info):
    model = build(subject, case_weights(root, subject))
    out[""] = infer(model, load_input(root, subject), compiled=True)
    info["params"] = counts(model)


def _file(root, subject, out, info):
    import keras_famous

    weights, options = {case[0]: case[1:] for case in FILES}[subject]
    if weights == "digits":
        model = keras_famous.LeNet5(weights="digits")
        out[""] = infer(model, load_input(root, "LeNet5"))
    else:
        model = build(RESNET18, os.path.join(files(root), weights), **options)
        out[""] = infer(model, load_input(root, "pixels" if options.get("include_preprocessing") else RESNET18))
    info["params"] = counts(model)


def _load_model(root, subject, out, info):
    import keras

    model = keras.saving.load_model(os.path.join(files(root), f"{subject}.keras"))
    out[""] = infer(model, load_input(root, subject))
    info["params"] = counts(model)


def _preprocessing(root, subject, out, info):
    from keras_famous import preprocessing
    from keras_famous.layers import ImagePreprocessing

    for mode in preprocessing.MODES:
        out[mode] = infer(ImagePreprocessing(mode), load_input(root, "pixels"))


def _pooling(root, subject, out, info):
    from keras_famous.layers import CaffePooling2D, UnpaddedAveragePooling2D

    for side in POOLING_SIDES:
        images = load_input(root, f"pool{side}")
        out[str(side)] = infer(UnpaddedAveragePooling2D(3, strides=2, padding="same"), images)
        for method in ("max", "ave"):
            out[f"caffe_{method}_{side}"] = infer(CaffePooling2D(3, strides=2, method=method), images)


def _features(root, subject, out, info):
    from keras_famous import transfer

    extractor = transfer.feature_extractor(  # a file with the top: the headless model skips the classifier
        "ResNet18", variant="torchvision", weights=case_weights(root, RESNET18), input_shape=(32, 32, 3)
    )
    out.update(infer(extractor, load_input(root, RESNET18)))
    info["levels"] = list(extractor.output)


def snapshot(model):
    """{weight path: a copy of its value}."""
    return {w.path: np.array(value, copy=True) for w, value in zip(model.weights, model.get_weights())}


def make_classifier(root):
    from keras_famous import transfer

    return transfer.classifier("ResNet18", **CLASSIFIER, weights=case_weights(root, RESNET18))


def _classifier(root, subject, out, info):
    """The classifier with TensorFlow's head weights: its outputs, what freeze/unfreeze make trainable, and one
    fine_tune step with the backbone frozen: which weights it changed, and the outputs after it."""
    from keras_famous import transfer

    model = make_classifier(root)
    model.load_weights(os.path.join(files(root), "classifier.weights.h5"))  # TensorFlow's random head
    images, labels = load_input(root, "classifier_images"), load_input(root, "classifier_labels")
    out["before"] = infer(model, images)
    backbone = model.get_layer(transfer.BACKBONE)
    trainable = {"classifier": len(model.trainable_weights)}
    transfer.unfreeze(backbone, from_layer=transfer.feature_taps(backbone)[16])
    trainable["unfreeze_from_stride_16"] = len(model.trainable_weights)
    transfer.unfreeze(backbone, keep_batchnorm_frozen=False)
    trainable["unfreeze_all"] = len(model.trainable_weights)
    transfer.freeze(backbone)
    trainable["freeze"] = len(model.trainable_weights)
    info["trainable_weights"] = trainable
    before = snapshot(model)
    jit = False if backend() == "tensorflow" else "auto"  # TensorFlow's "auto" is XLA: a long compile, same math
    history, tuned = transfer.fine_tune(
        model, images, y=labels, batch_size=len(images), head_epochs=1, fine_tune_epochs=0, verbose=0, jit_compile=jit
    )
    after = snapshot(model)
    info["steps"] = len(history.history["loss"])
    info["tuned"] = tuned is not None
    info["weights"] = sorted(before)
    info["changed"] = sorted(path for path in before if not np.array_equal(before[path], after[path]))
    info["backbone_weights"] = sorted(w.path for w in backbone.weights)
    out["after"] = infer(model, images)


def _export_one(model, subject, inputs, directory, fmt, **options):
    from keras_famous import export

    path = os.path.join(directory, f"{subject}.{fmt}")
    started = time.perf_counter()
    try:
        report = export.export(model, path, format=fmt, sample_inputs=inputs, **options)
    except Exception as error:  # recorded: which paths fail, and how, is what the test checks
        failure = {"error": f"{type(error).__module__}.{type(error).__qualname__}", "message": str(error)}
        return None, {**failure, "traceback": traceback.format_exc()[-8000:], "seconds": time.perf_counter() - started}
    result = {"path": path, "relative_difference": report.relative_difference, "seconds": time.perf_counter() - started}
    return report, result


def _export(root, subject, out, info):
    """export.export of the loaded builder case on this backend in its EXPORTS formats: the artifacts (which the test
    process runs against TensorFlow's outputs) and export's own check, or the error it raised. The TFLite export
    keeps its SavedModel too; the SavedModel alone is exported when that fails (to tell which step fails)."""
    formats = EXPORTS[subject]
    model = build(subject, case_weights(root, subject))
    directory = os.path.join(root, backend(), "exports")
    os.makedirs(directory, exist_ok=True)
    inputs = load_input(root, subject)
    if "tflite" in formats:
        saved_model = os.path.join(directory, f"{subject}.saved_model") if "saved_model" in formats else None
        report, info["tflite"] = _export_one(model, subject, inputs, directory, "tflite", saved_model_path=saved_model)
        if report is not None and saved_model is not None:
            info["saved_model"] = {"path": saved_model, "relative_difference": report.saved_model.relative_difference}
    if "saved_model" in formats and "saved_model" not in info:
        info["saved_model"] = _export_one(model, subject, inputs, directory, "saved_model")[1]
    if "onnx" in formats:
        info["onnx"] = _export_one(model, subject, inputs, directory, "onnx")[1]


KINDS = ("build", "file", "load_model", "preprocessing", "pooling", "transfer", "export")


def cases(kinds=KINDS, backend_name=None):
    """The cases of `kinds` in the order they run on `backend_name` (any when None): (case id, kind, runner, subject,
    the ready mark it waits for)."""
    every = (
        [
            (name, "build", _builder, name, name)
            for name, *_ in BUILDS
            if backend_name is None or runs_on(backend_name, name)
        ]
        + [(f"load_model/{name}", "load_model", _load_model, name, name) for name in SAVED_MODELS]
        + [(name, "file", _file, name, "all") for name, *_ in FILES]
        + [
            ("preprocessing", "preprocessing", _preprocessing, None, "all"),
            ("pooling", "pooling", _pooling, None, "all"),
        ]
        + [("features", "transfer", _features, None, "all"), ("classifier", "transfer", _classifier, None, "all")]
        + [
            (f"export/{name}", "export", _export, name, name)
            for name in EXPORTS
            if backend_name is None or runs_on(backend_name, name)
        ]
    )
    return [case for case in every if case[1] in kinds]


def run_cases(root, selected):
    """Runs the `selected` cases (of `cases()`) on this process' backend: (outputs, report)."""
    import keras

    outputs, report = {}, {}
    for case_id, _, runner, subject, ready in selected:
        keras.backend.clear_session(free_memory=False)  # a full garbage collection each time: ~0.3 s a case
        info, out = {"error": None}, {}
        started = time.perf_counter()
        try:
            wait_ready(root, ready)
            info["waited"] = round(time.perf_counter() - started, 2)
            runner(root, subject, out, info)
        except Exception:
            info["error"] = traceback.format_exc()[-8000:]
        outputs.update({f"{case_id}/{key}" if key else case_id: value for key, value in out.items()})
        info["seconds"] = round(time.perf_counter() - started, 2)
        report[case_id] = info
    keras.backend.clear_session()
    return outputs, report


def save(root, name, outputs, report):
    directory = os.path.join(root, name)
    os.makedirs(directory, exist_ok=True)
    np.savez(os.path.join(directory, "outputs.npz"), **outputs)
    with open(os.path.join(directory, "report.json"), "w") as handle:
        json.dump(report, handle, indent=1)


def main(root):
    started = time.perf_counter()
    name = backend()
    outputs, report = run_cases(root, cases(backend_name=name))
    report["_seconds"] = round(time.perf_counter() - started, 2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    report["_cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 1)  # imports included
    save(root, name, outputs, report)
    print(f"{name}: {len(outputs)} outputs in {report['_seconds']} s, {report['_cpu_seconds']} s of CPU")


if __name__ == "__main__":
    main(sys.argv[1])
