"""`keras-famous predict`: classify or embed image files, folders and globs into a CSV, JSON Lines or Parquet
table, on this machine or a Ray cluster (`inference.predict_files` does the work)."""

import signal


def add_arguments(parser):
    parser.add_argument("model", help="a catalog name (e.g. ResNet50) or a .keras file (e.g. from keras-famous train)")
    parser.add_argument(
        "inputs", nargs="+", metavar="INPUT", help="image files, folders (searched at any depth), globs"
    )
    parser.add_argument("--output", required=True, help="FILE.csv, FILE.jsonl or FILE.parquet; a re-run resumes it")
    what = parser.add_mutually_exclusive_group()
    what.add_argument("--top", type=int, default=5, help="the K best classes per image (default 5)")
    what.add_argument("--features", action="store_true", help="the feature vector before the classifier instead")
    parser.add_argument("--weights", default="imagenet", help="a catalog model's weights: 'imagenet', 'digits', a file or 'none'")  # fmt: skip
    parser.add_argument("--variant", default=None)
    parser.add_argument("--batch", type=int, default=32, help="images per engine call (default 32)")
    parser.add_argument("--engine", default="auto", help="auto (the fastest here) or one of inference.ENGINES")
    parser.add_argument(
        "--precision", default="float32", choices=("float32", "bfloat16", "int8", "auto"),
        help="reduced precision is calibrated on a sample of the inputs and used only if its top-1 agrees with float32",
    )  # fmt: skip
    parser.add_argument("--threads", type=int, default=None, help="engine and decoding threads (default: usable cores)")
    parser.add_argument("--image-size", type=int, default=None, help="the side for a model whose input size is free")
    parser.add_argument("--overwrite", action="store_true", help="start the output afresh instead of resuming it")
    parser.add_argument(
        "--ray", nargs="?", const="", default=None, metavar="ADDRESS",
        help="run on Ray: the cluster at ADDRESS (or RAY_ADDRESS), else a local instance",
    )  # fmt: skip


def _stop(signum, frame):
    raise SystemExit(128 + signum)  # SIGTERM ends like Ctrl-C: the rows so far are kept, the output closed


# how `predict_files`' arguments are spelled on this command line (see keras_famous.arguments)
SPELLINGS = dict(
    output="--output", top="--top", batch_size="--batch", engine="--engine", threads="--threads", weights="--weights",
    variant="--variant", inputs="INPUT", overwrite="--overwrite", precision="--precision", image_size="--image-size",
)  # fmt: skip


def run(args):
    from .inference import predict_files

    signal.signal(signal.SIGTERM, _stop)
    report = predict_files(
        args.model, args.inputs, args.output, top=args.top, features=args.features, weights=args.weights,
        variant=args.variant, image_size=None if args.image_size is None else (args.image_size, args.image_size),
        batch_size=args.batch, engine=args.engine, precision=args.precision, threads=args.threads, overwrite=args.overwrite,
        ray=args.ray is not None, ray_address=args.ray or None,
    )  # fmt: skip
    errors = f", {report['errors']} unreadable (their rows say why)" if report["errors"] else ""
    print(
        f"wrote {report['written']} rows to {report['output']} ({report['skipped']} already there{errors}; "
        f"{report['images_per_second']:.1f} images/s)"
    )
    return 0
