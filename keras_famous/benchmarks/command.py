"""`keras-famous bench` (and `python tools/benchmark.py`): the flags, the run, the outputs."""

import argparse
import json
import os
import sys
from dataclasses import asdict

from .bench import ENGINES, run_worker, run, tflite_conv_peaks
from .build import build_markdown, build_times
from .creation import creation_markdown, creation_times
from .report import machine, markdown, plot, write_text
from .timing import cpu_summary


def add_arguments(parser):
    parser.add_argument("models", nargs="+", help="catalog names (ResNet50 InceptionV3 ...), or all")
    parser.add_argument("--batch", type=int, nargs="+", default=[1], help="batch sizes (default 1)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, from: {', '.join(ENGINES)}")
    parser.add_argument("--input-size", type=int, default=None, help="input side (default: the model's)")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per engine and round")
    parser.add_argument("--rounds", type=int, default=1, help="run every engine this many times, taking turns")
    parser.add_argument("--json", default=None, help="write the records here")
    parser.add_argument("--markdown", default=None, help="write the Markdown table here")
    parser.add_argument("--png", default=None, help="write a throughput plot here")
    parser.add_argument("--build", action="store_true", help="also time building and weights loading of the models")
    parser.add_argument("--build-only", action="store_true", help="only time building and weights loading")
    parser.add_argument(
        "--creation", action="store_true",
        help="also time creating inference.predictor, cold and cached (fresh processes), with peak memory",
    )  # fmt: skip
    parser.add_argument("--creation-only", action="store_true", help="only time creating inference.predictor")
    parser.add_argument("--force", action="store_true", help="overwrite existing output files")


def main_from_args(args):
    outputs = [p for p in (args.json, args.markdown, args.png) if p]
    existing = [p for p in outputs if os.path.exists(p)]
    if existing and not args.force:
        raise SystemExit(f"error: {', '.join(existing)} exists; pass --force to overwrite.")
    from .. import registry

    models = registry.list_models() if [m.lower() for m in args.models] == ["all"] else args.models
    engines = [engine.strip() for engine in args.engines.split(",") if engine.strip()]
    info = machine()
    records, peaks, table = [], {}, ""
    if not (args.build_only or args.creation_only):
        peaks["matmul"] = run_worker("matmul", models[0], 1, 1, 0, 0, 600)["gflops"]
        print(f"{cpu_summary()}; matmul peak {peaks['matmul']:,.0f} GFLOP/s", flush=True)
        if any(engine.startswith("tflite/") for engine in engines):
            peaks["tflite_conv"] = tflite_conv_peaks()
            print(f"LiteRT conv peak GFLOP/s: {peaks['tflite_conv']}", flush=True)
        records = run(
            models,
            args.batch,
            engines,
            args.warmup,
            args.repeats,
            args.input_size,
            progress=lambda text: print(text, flush=True),
            rounds=args.rounds,
        )
        table = markdown(records, peaks["matmul"], info, peaks.get("tflite_conv"))
    _write_outputs(args, info, peaks, records, [], table)  # kept even if the build timing below fails
    builds, creations = [], []
    if args.build or args.build_only:
        builds = build_times(models, progress=lambda text: print(text, flush=True))
        table += ("\n" if table else "") + build_markdown(builds)
        _write_outputs(args, info, peaks, records, builds, table)
    if args.creation or args.creation_only:
        creations = creation_times(models, max(args.batch), progress=lambda text: print(text, flush=True))
        table += ("\n" if table else "") + cpu_summary() + "\n\n" + creation_markdown(creations)
        _write_outputs(args, info, peaks, records, builds, table, creations)
    print(table)
    return records


def _write_outputs(args, info, peaks, records, builds, table, creations=()):
    if args.json:
        document = {
            "machine": info,
            "matmul_peak_gflops": peaks.get("matmul"),
            "tflite_conv_peak_gflops": peaks.get("tflite_conv"),
            "records": [asdict(r) for r in records],
            "build": [asdict(b) for b in builds],
            "creation": [asdict(c) for c in creations],
        }
        write_text(args.json, json.dumps(document, indent=1) + "\n")
    if args.markdown:
        write_text(args.markdown, table)
    if args.png and records:
        plot(records, args.png)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="keras-famous bench",
        description="Side-by-side speed of keras_famous and the engines users would pick instead, in one run.",
    )
    add_arguments(parser)
    main_from_args(parser.parse_args(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
