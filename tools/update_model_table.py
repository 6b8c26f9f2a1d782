"""Stores every model variant's catalog row in keras_famous/model_table.json: the metadata measured on its built
graph (parameters, depth, multiply-adds) and its `listing` (year, reference count, published accuracy: the family's
spec, as `keras-famous list` shows it without building anything).

Run after changing a network or a family's references: `python tools/update_model_table.py [NAME ...]` (names
given: only those models are rebuilt, the others keep their measured numbers; every row's listing is rewritten).
tests/test_registry.py fails when the stored table and the families disagree.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402

from keras_famous import catalog, registry  # noqa: E402
from keras_famous.files import atomic_file  # noqa: E402


def main(names):
    stored = catalog.load_table()
    names = {registry.get_spec(name).name for name in names}
    table = {}
    for name in registry.list_models():
        table[name] = {}
        for variant in registry.get_spec(name).variants:
            row = stored.get(name, {}).get(variant)
            if row is None or not names or name in names:
                keras.backend.clear_session()
                row = registry.compute_stats(name, variant)
                print(name, variant, row, flush=True)
            row = {key: value for key, value in row.items() if key != "listing"}
            table[name][variant] = {**row, "listing": catalog.listing(registry.model_info(name, variant, stats=row))}
    target = os.path.join(os.path.dirname(catalog.__file__), catalog.TABLE_FILE)
    with atomic_file(target, "w") as handle:
        json.dump(table, handle, indent=1, sort_keys=False)
        handle.write("\n")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
