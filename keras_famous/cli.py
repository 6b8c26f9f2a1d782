"""`keras-famous` (also `python -m keras_famous`): list | summary | convert | export | train | predict | demo |
bench, a thin layer over the library.

Quiet by default: unless `--verbose` is given or the user set TF_CPP_MIN_LOG_LEVEL, TensorFlow's log lines are
hidden, and the notices it prints while it loads (oneDNN, CPU instructions, CUDA drivers: some through absl before
its logging is set up, which TF_CPP_MIN_LOG_LEVEL does not reach) are held back and shown only if loading fails.
Nothing here imports Keras before the arguments are read (`import keras_famous` loads nothing heavy), and
`list` reads the stored catalog without it.
"""

import argparse
import os
import sys

from .arguments import spelled
from .quiet import quiet, quiet_by_default


def format_table(header, rows, markdown=False):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def cmd_list(args):
    from . import catalog  # the stored table: no Keras, no TensorFlow

    print(format_table(catalog.HEADER, catalog.rows(), markdown=args.markdown))
    print(f"\n{catalog.NOTE}")
    return 0


def cmd_summary(args):
    from . import analysis, registry

    spec = registry.get_spec(args.name)
    variant, _ = spec.variant(args.variant)
    kwargs = {}
    if args.input_shape:
        kwargs = {"input_shape": _input_shape(args.input_shape), "include_top": args.include_top}
    model = registry.build_variant(spec.name, variant, **kwargs)
    rows = analysis.layer_table(model)
    header = ["Layer", "Type", "Output shape", "Params", "Activations", "Memory (KiB)", "MACs"]
    body = [
        [
            row.name,
            row.kind,
            "x".join(str(d) for d in row.output_shape),
            f"{row.params:,}",
            f"{row.activations:,}",
            f"{row.activations * 4 / 1024:,.0f}",
            f"{row.macs:,}",
        ]
        for row in rows
    ]
    stats = analysis.graph_stats(model)
    print(f"{spec.name} ({variant}) - {spec.paper}, {spec.year}")
    print(format_table(header, body))
    total_activations = sum(row.activations for row in rows)
    print(
        f"\nTotal params: {stats['params']:,} (trainable {stats['trainable_params']:,}, "
        f"non-trainable {stats['non_trainable_params']:,})\n"
        f"Activations per image (forward): {total_activations:,} values = "
        f"{total_activations * 4 / 2**20:.1f} MiB in float32\n"
        f"Multiply-adds per image: {stats['macs']:,} ({stats['macs'] / 1e9:.2f} G)\n"
        f"Depth: {stats['depth']} (longest path), {stats['weighted_depth']} layers with weights"
    )
    return 0


def _source_reference(spec, variant, path):
    """The registry Reference whose framework wrote `path` (by format), or None."""
    from . import convert

    fmt = convert.file_format(path)
    pytorch = ("torchvision", "timm")  # a .caffemodel: no runnable Caffe
    libraries = {"keras_h5": ("keras.applications",), "safetensors": pytorch, "torch": pytorch}.get(fmt, ())
    return next((r for r in spec.variants[variant].references if r.library in libraries), None)


def cmd_convert(args):
    from . import files, registry
    from .benchmarks import reference

    output = os.path.abspath(args.output)
    if not output.endswith(".weights.h5"):
        raise ValueError(f"`--output` must end in .weights.h5 (a Keras 3 weights file); received {args.output!r}.")
    files.check_writable_target(output, args.force)
    if not os.path.isfile(args.src):
        raise ValueError(f"SRC {args.src!r} is not a file.")
    spec = registry.get_spec(args.model)
    variant, _ = spec.variant(args.variant)
    source = _source_reference(spec, variant, args.src)
    activation = "softmax" if source is not None and source.library == "keras.applications" else None
    top = {} if args.include_top else {"include_top": False, "pooling": "avg"}
    model = registry.build_variant(spec.name, variant, classifier_activation=activation, **top)
    registry.load_weights(model, args.src, spec.name, variant)
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with files.atomic_path(output, suffix=".weights.h5") as tmp:  # Keras wants the suffix
        model.save_weights(tmp)
    print(f"wrote {output}: {spec.name} ({variant}{', no top' if not args.include_top else ''}) from {args.src}")
    if source is None:
        print("not compared: no runnable source framework for this file")
        return 0
    difference, scale, why = reference.max_abs_difference(model, args.src, source, spec.input_shape)
    if difference is None:
        print(f"not compared with {source.library} {source.model}: {why}")
    else:
        print(f"max abs difference vs {source.library} {source.model}: {difference:.3g} (outputs up to {scale:.3g})")
    return 0


def _input_shape(text):
    """--input-shape "H,W,C" as a tuple of positive integers, or an error naming the flag."""
    try:
        shape = tuple(int(side) for side in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(
            f"--input-shape must be HEIGHT,WIDTH,CHANNELS in positive integers, e.g. 224,224,3; got {text!r}."
        )
    return shape


def _representative(flag, path):
    import numpy as np

    if path is None:
        return None
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise ValueError(f"{flag} {path}: not a readable .npy array of typical inputs ({error}).") from None


def cmd_export(args):
    from . import export, registry

    # export's own checks, before the model is built (its messages spell our flags)
    args.format = export.check_arguments(args.output, args.format, args.quantize, args.representative, args.force)
    spec = registry.get_spec(args.name)
    variant, _ = spec.variant(args.variant)
    kwargs = {"weights": args.weights}
    if args.input_shape:
        kwargs["input_shape"] = _input_shape(args.input_shape)
    model = registry.build_variant(spec.name, variant, **kwargs)
    report = export.export(
        model,
        args.output,
        format=args.format,
        quantize=args.quantize,
        representative_data=_representative("--representative", args.representative),
        validation_data=_representative("--validation", args.validation),
        overwrite=args.force,
        optimize=args.optimize,
    )
    held_out = " held-out" if report.quantize == "int8" and args.validation is None else ""
    print(
        f"wrote {report.path} ({report.size_bytes / 1e6:.2f} MB): {spec.name} ({variant}) as {report.format}"
        f"{f' {report.quantize}' if report.quantize else ''}; max abs difference vs Keras "
        f"{report.max_abs_difference:.3g} ({report.relative_difference:.3g} relative), top-1 agreement "
        f"{report.top1_agreement:.0%} on {report.verified_on}{held_out} images"
    )
    return 0


def cmd_demo(args):
    from . import demo

    demo.run(
        args.output,
        backbone=args.backbone,
        variant=args.variant,
        weights=args.weights,
        pretrain_epochs=args.pretrain_epochs,
        head_epochs=args.head_epochs,
        fine_tune_epochs=args.fine_tune_epochs,
    )
    return 0


def _train_argv(args):
    """The `train` command line of one worker: the launcher's own, less --workers and --join-timeout."""
    argv = ["train", args.model, "--dataset", args.dataset, "--epochs", str(args.epochs), "--batch", str(args.batch)]
    argv += ["--learning-rate", repr(args.learning_rate), "--seed", str(args.seed)]
    argv += ["--fine-tune-epochs", str(args.fine_tune_epochs), "--precision", args.precision]
    for flag in ("weights", "variant", "output", "checkpoint_dir", "image_size", "unfreeze_from"):
        value = getattr(args, flag)
        argv += [f"--{flag.replace('_', '-')}", str(value)] if value is not None else []
    for flag in ("force", "restart"):
        argv += [f"--{flag}"] if getattr(args, flag) else []
    return argv + (["--no-augment"] if args.augment is False else [])


def cmd_train(args):
    from . import training

    if args.workers < 1 or args.epochs < 1 or args.batch < 1 or args.fine_tune_epochs < 0 or args.join_timeout <= 0:
        raise ValueError(
            f"--workers, --epochs, --batch and --join-timeout must be positive and --fine-tune-epochs at least 0; "
            f"received {args.workers}, {args.epochs}, {args.batch}, {args.join_timeout:g} and {args.fine_tune_epochs}."
        )
    if args.fine_tune_epochs and args.weights is None:
        raise ValueError("--fine-tune-epochs continues from pretrained --weights; from scratch --epochs trains all.")
    options = dict(variant=args.variant, output=args.output, overwrite=args.force, checkpoint_dir=args.checkpoint_dir)
    training.check_train_arguments(
        args.model, args.dataset, image_size=args.image_size, weights=args.weights, precision_policy=args.precision,
        **options,
    )  # fmt: skip
    if args.batch % args.workers:
        raise ValueError(f"--batch {args.batch} must be a multiple of --workers {args.workers} (each takes a share).")
    if args.workers > 1:
        if any(os.environ.get(name) for name in training.ENVIRONMENT):
            raise ValueError("--workers starts the processes of this machine; it cannot be combined with the "
                             "KERAS_DISTRIBUTION_* variables of a cluster run (one process per machine).")  # fmt: skip
        backend = os.environ.get("KERAS_BACKEND", "jax")
        if backend != "jax":
            raise ValueError(
                f"--workers {args.workers} runs on the JAX backend; KERAS_BACKEND={backend} is set. "
                + (training.MULTI_WORKER_UPSTREAM if backend == "tensorflow" else "")
            )
        command = [sys.executable, "-m", "keras_famous", *_train_argv(args)]
        return training.launch(command, args.workers, join_timeout=args.join_timeout)
    training.train(
        args.model,
        args.dataset,
        epochs=args.epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        unfreeze_from=args.unfreeze_from or "last_stage",
        global_batch_size=args.batch,
        weights=args.weights,
        learning_rate=args.learning_rate,
        image_size=args.image_size,
        augment=args.augment,
        precision_policy=args.precision,
        restart=args.restart,
        seed=args.seed,
        **options,
    )
    return 0


# how the library's arguments are spelled on each command line (see keras_famous.arguments)
EXPORT_SPELLINGS = dict(
    weights="--weights", variant="--variant", input_shape="--input-shape", format="--format", path="--output",
    quantize="--quantize", representative_data="--representative", validation_data="--validation",
    overwrite="--force",
)  # fmt: skip
TRAIN_SPELLINGS = dict(
    global_batch_size="--batch", checkpoint_dir="--checkpoint-dir", output="--output", dataset="--dataset",
    weights="--weights", variant="--variant", epochs="--epochs", image_size="--image-size",
    precision_policy="--precision", unfreeze_from="--unfreeze-from", overwrite="--force",
)  # fmt: skip


def cmd_bench(args):
    from . import benchmarks

    benchmarks.main_from_args(args)
    return 0


def build_parser():
    parser = argparse.ArgumentParser(prog="keras-famous", description="The famous CNNs as Keras applications.")
    verbose_help = "show TensorFlow's log lines (hidden by default)"
    parser.add_argument("--verbose", action="store_true", help=verbose_help)
    verbose = argparse.ArgumentParser(add_help=False)  # after the subcommand too; SUPPRESS keeps one given before
    verbose.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def add_parser(name, **kwargs):
        return sub.add_parser(name, parents=[verbose], **kwargs)

    p_list = add_parser("list", help="print the catalog table")
    p_list.add_argument("--markdown", action="store_true", help="print a Markdown table")
    p_list.set_defaults(func=cmd_list, needs_keras=False)
    p_summary = add_parser("summary", help="print a model's layer-by-layer table")
    p_summary.add_argument("name")
    p_summary.add_argument("--variant", default=None)
    p_summary.add_argument("--input-shape", default=None, help="e.g. 299,299,3")
    p_summary.add_argument("--no-top", dest="include_top", action="store_false")
    p_summary.set_defaults(func=cmd_summary, spellings=dict(variant="--variant", input_shape="--input-shape"))
    p_convert = add_parser(
        "convert", help="convert a weights file (.h5, .safetensors, .pth, .caffemodel, ...) to .weights.h5"
    )
    p_convert.add_argument(
        "src", help="the weights file: keras.applications .h5, torchvision/timm .pth or .safetensors, Caffe .caffemodel"
    )
    p_convert.add_argument("--model", required=True, help="catalog name, e.g. ResNet50")
    p_convert.add_argument("--variant", default=None, help="the layout the file has, e.g. torchvision")
    p_convert.add_argument("--output", required=True, help="OUT.weights.h5")
    p_convert.add_argument("--no-top", dest="include_top", action="store_false", help="convert the backbone only")
    p_convert.add_argument("--force", action="store_true", help="overwrite an existing output")
    p_convert.set_defaults(
        func=cmd_convert, spellings=dict(weights="SRC", variant="--variant", output="--output", overwrite="--force")
    )
    p_export = add_parser("export", help="export a model to SavedModel, TFLite or ONNX, verified against Keras")
    p_export.add_argument("name")
    p_export.add_argument(
        "--output", required=True, help="FILE.tflite, FILE.onnx, FILE.keras or a folder (SavedModel): names the format"
    )
    p_export.add_argument("--variant", default=None)
    p_export.add_argument("--weights", default=None, help="'imagenet', 'digits' or a weights file")
    p_export.add_argument(
        "--format",
        default=None,
        choices=("saved_model", "tflite", "onnx", "keras"),
        help="the format, when --output's extension does not name it (onnx: pip install keras-famous[onnx])",
    )
    p_export.add_argument("--quantize", default=None, choices=("float16", "dynamic", "int8"))
    p_export.add_argument(
        "--representative", default=None, help="a .npy of typical inputs (int8 calibrates on 3/4, checks on 1/4)"
    )
    p_export.add_argument(
        "--validation",
        default=None,
        help="a .npy of other typical inputs to check int8 on (all of --representative calibrates)",
    )
    p_export.add_argument("--input-shape", default=None, help="e.g. 160,160,3")
    p_export.add_argument("--force", action="store_true", help="overwrite an existing output")
    p_export.add_argument(
        "--no-optimize",
        dest="optimize",
        action="store_false",
        help="export the graph as built (no BatchNormalization folding, dropout/aux removal)",
    )
    p_export.set_defaults(func=cmd_export, spellings=EXPORT_SPELLINGS)
    p_demo = add_parser("demo", help="offline end to end: LeNet-5 digits, transfer learning, TFLite float32/int8")
    p_demo.add_argument("--output", default="keras-famous-demo", help="directory for the models, table and plot")
    p_demo.add_argument("--backbone", default="ResNet18", help="catalog backbone for the transfer-learning step")
    p_demo.add_argument("--variant", default="torchvision")
    p_demo.add_argument("--weights", default=None, help="backbone weights: 'imagenet' (from the cache) or a file")
    p_demo.add_argument("--pretrain-epochs", type=int, default=5, help="source-task epochs (without --weights)")
    p_demo.add_argument("--head-epochs", type=int, default=4)
    p_demo.add_argument("--fine-tune-epochs", type=int, default=2)
    p_demo.set_defaults(func=cmd_demo, spellings=dict(output="--output", variant="--variant", weights="--weights"))
    p_train = add_parser(
        "train",
        help="train a model on the digits or a folder of images, on N local worker processes or one per machine",
        description="Trains on this process, on --workers N local processes (JAX backend), or as one process "
        "of a cluster run configured by KERAS_DISTRIBUTION_JOB_ADDRESSES, KERAS_DISTRIBUTION_NUM_PROCESSES and "
        "KERAS_DISTRIBUTION_PROCESS_ID. Checkpoints every epoch; the same command resumes a stopped run.",
    )
    p_train.add_argument("model", help="catalog name, e.g. LeNet5")
    p_train.add_argument(
        "--dataset",
        default="digits",
        help="'digits' or DIR: DIR/train (+ DIR/test|val|valid|validation) or DIR/<class>/ (one folder per class)",
    )
    p_train.add_argument(
        "--epochs",
        type=int,
        default=3,
        help="from scratch: all epochs; with --weights: the new head's (backbone frozen)",
    )
    p_train.add_argument(
        "--fine-tune-epochs", type=int, default=0, help="with --weights: then unfreeze and train at --learning-rate/100"
    )
    p_train.add_argument(
        "--unfreeze-from", default=None, help="the first backbone layer to fine-tune (default: its last stage's first)"
    )
    p_train.add_argument("--workers", type=int, default=1, help="local worker processes (JAX backend when > 1)")
    p_train.add_argument("--batch", type=int, default=32, help="global batch size, split over the workers")
    p_train.add_argument(
        "--weights", default=None, help="start from 'imagenet', 'digits' or a weights file (any class count)"
    )
    p_train.add_argument("--variant", default=None)
    p_train.add_argument("--output", default=None, help="the trained model, FILE.keras (default MODEL-DATASET.keras)")
    p_train.add_argument("--checkpoint-dir", default=None, help="default OUTPUT.checkpoints; removed when done")
    p_train.add_argument("--restart", action="store_true", help="remove the checkpoints of an earlier run, start over")
    p_train.add_argument("--image-size", type=int, default=None, help="DIR's images' side (default: the model's)")
    p_train.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate")
    p_train.add_argument(
        "--no-augment", dest="augment", action="store_false", default=None, help="no random crops and flips (DIR)"
    )
    p_train.add_argument(
        "--precision", default="auto", choices=("auto", "float32", "mixed_float16", "mixed_bfloat16"),
        help="auto: mixed_float16 on a GPU, float32 on CPUs (the classifier is float32 always)",
    )  # fmt: skip
    p_train.add_argument("--seed", type=int, default=0)
    p_train.add_argument("--force", action="store_true", help="overwrite an existing output")
    p_train.add_argument(
        "--join-timeout", type=float, default=60, help="--workers: seconds for every worker to join (default 60)"
    )
    p_train.set_defaults(func=cmd_train, spellings=TRAIN_SPELLINGS)
    p_predict = add_parser("predict", help="classify or embed image files and folders into a CSV/JSONL/Parquet table")
    from . import cli_predict

    cli_predict.add_arguments(p_predict)
    p_predict.set_defaults(func=cli_predict.run, spellings=cli_predict.SPELLINGS)
    p_bench = add_parser("bench", help="time keras_famous against keras.applications, PyTorch and LiteRT in one run")
    from .benchmarks import add_arguments

    add_arguments(p_bench)
    p_bench.set_defaults(func=cmd_bench)
    return parser


def _load_keras(hold_notices):
    """Keras and TensorFlow, with their start-up notices held back (`hold_notices`) unless loading fails."""
    with quiet(native_stderr=hold_notices):
        import keras  # noqa: F401  (first: it loads its backend; torch loaded after TensorFlow crashes here)
        import tensorflow  # noqa: F401


def main(argv=None):
    args = build_parser().parse_args(argv)
    if os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES") and not os.environ.get("KERAS_BACKEND"):
        os.environ["KERAS_BACKEND"] = "jax"  # a cluster run of `keras-famous train`: only JAX trains across processes
    quieted = quiet_by_default(args.verbose)
    if getattr(args, "needs_keras", True):
        _load_keras(hold_notices=quieted)
    if isinstance(getattr(args, "weights", None), str) and args.weights.lower() == "none":
        args.weights = None  # --weights none: no pretrained weights (the Python API's weights=None)
    try:
        with spelled(**getattr(args, "spellings", {})):  # the library's messages name our flags
            return args.func(args)
    except (ValueError, OSError, ImportError) as error:
        print(f"keras-famous: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
