"""Downloads every manifest entry, converts it, and checks the converted model against the source framework.

    python tools/fetch_and_verify_weights.py [--models ResNet50 InceptionV4 ...]

Needs internet (or a mirror: KERAS_FAMOUS_MANIFEST=mirror.json), and torch/timm/tf_keras to run the
sources. Each entry goes through the same path as `weights="imagenet"` (download with hash check into
KERAS_FAMOUS_HOME, conversion cached once); then random images go through our model and through the
source framework's own model loaded from the downloaded file, and the largest output difference is
printed. Exit status 1 if any entry fails or differs by more than 1e-4 of the output magnitude.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_famous import registry, weights  # noqa: E402
from keras_famous.benchmarks import reference as source_framework  # noqa: E402

TOLERANCE = 1e-4


def verify(model_name, variant, dataset):
    """(status, detail) of one manifest entry."""
    keras.backend.clear_session()
    spec = registry.get_spec(model_name)
    try:
        path, entry = weights.resolve(model_name, variant, dataset)
        activation = "softmax" if entry.source == "keras.applications" else None
        model = registry.build_variant(model_name, variant, weights=dataset, classifier_activation=activation)
    except (OSError, ValueError) as error:
        return "FAILED", str(error)
    reference = next((r for r in spec.variants[variant].references if r.library == entry.source), None)
    if reference is None:
        return "loaded", "no source framework to compare with"
    difference, scale, why = source_framework.max_abs_difference(model, path, reference, spec.input_shape)
    if difference is None:
        return "loaded", f"not compared: {why}"
    status = "ok" if difference <= TOLERANCE * scale else "DIFFERS"
    return status, f"max abs difference {difference:.3g} (outputs up to {scale:.3g})"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=None)
    args = parser.parse_args(argv)
    wanted = {registry.get_spec(name).name for name in args.models} if args.models else None
    failures = 0
    for model_name, variant, dataset in weights.load_manifest():
        if wanted and model_name not in wanted:
            continue
        status, detail = verify(model_name, variant, dataset)
        failures += status in ("FAILED", "DIFFERS")
        print(f"{model_name:18s} {variant:12s} {dataset:9s} {status:8s} {detail}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
