"""The record keras_famous keeps inside a `.keras` file it writes: `keras_famous.json` in the archive (Keras
loads the archive's own members and leaves others alone), saying what a reader cannot find in the model -
its class names, and how an image file becomes its input (`resize`: "stretch" as training read them, or a
central-crop fraction). `keras-famous predict` reads it; a `.keras` without one is taken to want raw pixels
in [0, 255], stretched, with classes named by their index.
"""

import json
import zipfile

MEMBER = "keras_famous.json"


def write_record(path, *, class_names, resize="stretch", **details):
    """Adds the record to the `.keras` archive at `path` (before it is moved into place)."""
    record = {"class_names": list(class_names), "resize": resize, **details}
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(MEMBER, json.dumps(record, indent=1))


def read_record(path):
    """The record of the `.keras` archive at `path`, or {} when it has none."""
    try:
        with zipfile.ZipFile(path) as archive:
            if MEMBER not in archive.namelist():
                return {}
            return json.loads(archive.read(MEMBER))
    except (zipfile.BadZipFile, ValueError, OSError):
        return {}
