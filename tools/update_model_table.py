"""Rebuilds every model variant and stores its measured metadata in keras_famous/model_table.json.

Run after changing a network: `python tools/update_model_table.py [NAME ...]` (names given: only those
models are rebuilt, the others keep their stored rows). tests/test_registry.py fails when the stored
table and the graphs disagree.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_famous import registry  # noqa: E402
from keras_famous.files import atomic_file  # noqa: E402


def main(names):
    stored = registry.load_table() if names else {}
    names = {registry.get_spec(name).name for name in names}
    table = {}
    for name in registry.list_models():
        spec = registry.get_spec(name)
        if names and name not in names and name in stored:
            table[name] = stored[name]
            continue
        table[name] = {}
        for variant in spec.variants:
            keras.backend.clear_session()
            table[name][variant] = registry.compute_stats(name, variant)
            print(name, variant, table[name][variant], flush=True)
    target = os.path.join(os.path.dirname(registry.__file__), registry.TABLE_FILE)
    with atomic_file(target, "w") as handle:
        json.dump(table, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
