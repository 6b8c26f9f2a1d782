"""`keras-famous demo`: the package's three uses end to end, offline, in a few minutes on two CPU cores.

1. LeNet-5 with the weights keras_famous trained on real handwritten digits (scikit-learn's digits,
   shipped in the package), scored on the fixed test split.
2. Transfer learning: a catalog backbone (ResNet18 by default) gets a new head for the digits 5-9 with
   its base frozen, then its last stage is fine-tuned (transfer.classifier + transfer.fine_tune). Offline
   there are no ImageNet weights, so the base is first trained here on a different task, the digits 0-4
   (the source task); with `weights` ("imagenet" from the cache, or a file) that step is skipped.
3. Deployment: both models exported to TFLite float32 and full-integer int8 (calibrated on 200 training
   images), run with the LiteRT interpreter on the whole test split.

It prints a table (accuracy of Keras vs each TFLite file, file size, batch-1 latency), and writes it
as JSON and Markdown with a PNG plot (accuracy and size per format) into the output directory.
"""

import json
import os
import statistics
import time

import keras
import numpy as np

from . import datasets, export, files, registry, transfer
from .metrics import top_k_accuracy
from .models.lenet import LeNet5

FORMATS = (("keras", None), ("tflite float32", None), ("tflite int8", "int8"))


def _latency_ms(run, sample, repeats=30):
    run(sample)  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(sample)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def _size_mb(path):
    return os.path.getsize(path) / 1e6


def _evaluate_tflite(runner, images, labels, title):
    print(f"  {title}: LiteRT on {len(images)} test images")
    progress = keras.utils.Progbar(len(images), unit_name="image")
    scores = []
    for start in range(0, len(images), 50):
        scores.append(runner(images[start : start + 50]))
        progress.add(len(scores[-1]))
    return top_k_accuracy(np.concatenate(scores), labels)


def _deploy(model, slug, x_train, x_test, y_test, output_dir):
    """Rows of the table for one Keras model: Keras itself, then each TFLite export."""
    keras_path = os.path.join(output_dir, f"{slug}.keras")
    keras.Model(model.inputs, model.outputs, name=model.name).save(keras_path)  # uncompiled: no optimizer state
    # eager calls, as export verifies: model.predict would first trace (for the transfer model, XLA-compile) a function
    keras_scores = export.keras_outputs(model, x_test, batch_size=64)
    sample = x_test[:1]
    rows = [
        dict(
            model=slug,
            format="keras",
            accuracy=top_k_accuracy(keras_scores, y_test),
            size_mb=_size_mb(keras_path),
            latency_ms=_latency_ms(model.predict_on_batch, sample),
        )
    ]
    progress = keras.utils.Progbar(2, unit_name="export")
    print(f"  exporting {slug} to TFLite float32 and int8 (each verified against Keras)")
    paths = {}
    for label, quantize in FORMATS[1:]:
        path = os.path.join(output_dir, f"{slug}_{label.split()[1]}.tflite")
        export.export(
            model,
            path,
            format="tflite",
            quantize=quantize,
            representative_data=x_train[:200],
            sample_inputs=x_test[:32],
            overwrite=True,
        )
        paths[label] = path
        progress.add(1)
    for label, path in paths.items():
        runner = export.TFLiteModel(path)
        accuracy = _evaluate_tflite(runner, x_test, y_test, f"{slug} {label}")
        rows.append(
            dict(
                model=slug,
                format=label,
                accuracy=accuracy,
                size_mb=_size_mb(path),
                latency_ms=_latency_ms(runner, sample),
            )
        )
    return rows


def _check_optional_dependencies():
    """Before any work: what the demo needs beyond the package (the `demo` extra), named with the fix."""
    import importlib.util

    missing = [name for name in ("matplotlib", "sklearn") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(
            f"The demo needs {' and '.join(missing)} (the digits come from scikit-learn, results.png from "
            "matplotlib): pip install 'keras-famous[demo]'."
        )


def _markdown(rows):
    lines = ["| model | format | test accuracy | size (MB) | batch-1 latency (ms) |", "|---|---|---:|---:|---:|"]
    for row in rows:
        lines.append(
            f"| {row['model']} | {row['format']} | {row['accuracy']:.4f} | {row['size_mb']:.2f} | {row['latency_ms']:.2f} |"
        )
    return "\n".join(lines)


def _plot(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(dict.fromkeys(row["model"] for row in rows))
    formats = [label for label, _ in FORMATS]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    width = 0.8 / len(formats)
    for k, label in enumerate(formats):
        by_model = {row["model"]: row for row in rows if row["format"] == label}
        positions = np.arange(len(models)) + k * width
        axes[0].bar(positions, [by_model[m]["accuracy"] for m in models], width, label=label)
        axes[1].bar(positions, [by_model[m]["size_mb"] for m in models], width, label=label)
    for axis, title in zip(axes, ("test accuracy (digits)", "file size (MB)")):
        axis.set_xticks(np.arange(len(models)) + width * (len(formats) - 1) / 2, models)
        axis.set_title(title)
    axes[0].set_ylim(0, 1)
    axes[1].set_yscale("log")
    axes[0].legend(loc="lower left")
    figure.suptitle("keras-famous demo: Keras vs TFLite (LiteRT)")
    figure.tight_layout()
    with files.atomic_path(path, suffix=".png") as tmp:
        figure.savefig(tmp, dpi=100)
    plt.close(figure)


def run(
    output_dir="keras-famous-demo",
    backbone="ResNet18",
    variant="torchvision",
    weights=None,
    pretrain_epochs=5,
    head_epochs=4,
    fine_tune_epochs=2,
    seed=0,
):
    """Runs the demo (see the module docstring) and returns the table's rows."""
    _check_optional_dependencies()
    os.makedirs(output_dir, exist_ok=True)
    keras.utils.set_random_seed(seed)
    started = time.perf_counter()
    print("[1/3] LeNet-5 with the shipped digits weights")
    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32()
    lenet = LeNet5(weights="digits")
    rows = _deploy(lenet, "lenet5", x_train, x_test, y_test, output_dir)

    print(f"[2/3] Transfer learning: {backbone} ({variant}) with a frozen base, new head for the digits 5-9")
    rgb_train, rgb_test = np.repeat(x_train, 3, -1), np.repeat(x_test, 3, -1)
    source, target, target_test = y_train < 5, y_train >= 5, y_test >= 5
    shape = (32, 32, 3)
    if weights is None:
        origin = f"pretrained here on the digits 0-4 ({pretrain_epochs} epochs; no ImageNet weights offline)"
        print(f"  the source task: training {backbone} on the digits 0-4 (no ImageNet weights offline)")
        pretrain = transfer.classifier(backbone, classes=5, variant=variant, input_shape=shape, dropout=0.0)
        transfer.unfreeze(pretrain.get_layer(transfer.BACKBONE), keep_batchnorm_frozen=False)
        pretrain.compile(keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        pretrain.fit(rgb_train[source], y_train[source], batch_size=32, epochs=pretrain_epochs, verbose=1)
        base = pretrain.get_layer(transfer.BACKBONE)
    else:
        origin = f"weights={weights}"
        base = registry.build_variant(
            backbone, variant, include_top=False, pooling="avg", weights=weights, input_shape=shape
        )
    print("  the target task: a new head on the frozen base for the digits 5-9, then the last stage fine-tuned")
    model = transfer.classifier(base, classes=5)
    last_stage = transfer.last_stage_start(model)  # the first layer after the second-to-last stage
    transfer.fine_tune(
        model,
        rgb_train[target],
        y=y_train[target] - 5,
        batch_size=32,
        head_epochs=head_epochs,
        fine_tune_epochs=fine_tune_epochs,
        unfreeze_from=last_stage,
        fine_tune_learning_rate=1e-4,
        validation_data=(rgb_test[target_test], y_test[target_test] - 5),
        verbose=1,
    )
    slug = f"{backbone.lower()}_digits5to9"
    print(f"[3/3] Deploying {slug}")
    rows += _deploy(model, slug, rgb_train[target], rgb_test[target_test], y_test[target_test] - 5, output_dir)

    table = _markdown(rows)
    note = f"Backbone: {backbone} ({variant}), {origin}; fine-tuned from {last_stage}."
    with files.atomic_file(os.path.join(output_dir, "results.json"), "w") as handle:
        json.dump(dict(rows=rows, backbone=note, seconds=time.perf_counter() - started), handle, indent=2)
    with files.atomic_file(os.path.join(output_dir, "results.md"), "w") as handle:
        handle.write(table + "\n\n" + note + "\n")
    _plot(rows, os.path.join(output_dir, "results.png"))
    print("\n" + table + "\n\n" + note)
    print(
        f"\nWrote {output_dir}/results.md, results.json, results.png and the model files "
        f"in {time.perf_counter() - started:.0f} s."
    )
    return rows
