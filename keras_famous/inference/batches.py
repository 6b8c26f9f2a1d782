"""One batch of image files through a predictor, the same on this machine and on a Ray actor: the files
decoded as the model wants them (`Decoder`), the predictor built and calibrated on the run's own images
(`build_predictor`), and the table rows of the batch (`rows`)."""

import re

import numpy as np

from .. import image_files
from .predictor import predictor as make_predictor


class Decoder:
    """path -> (pixels, "") or (None, the error), as `source` wants its images (one compiled function)."""

    def __init__(self, source):
        import tensorflow as tf

        size, channels, fraction = tuple(source.size), source.channels, source.crop_fraction
        if fraction is None:
            read = lambda path: image_files.decode(path, size, channels)  # noqa: E731
        else:
            read = lambda path: image_files.decode_center(path, size, channels, fraction)  # noqa: E731
        self._function = tf.function(read, input_signature=[tf.TensorSpec((), tf.string)])

    def __call__(self, path):
        try:
            return self._function(path).numpy(), ""
        except Exception as error:  # noqa: BLE001 (any unreadable file is a row with its reason)
            text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", str(error)).strip().splitlines()
            return None, f"{type(error).__name__}: {text[0] if text else 'unreadable'}"[:300]


def rows(paths, decoded, predict, top, class_names):
    """The table rows of `paths` from their (pixels, error) and the predictor's outputs."""
    good = [index for index, (pixels, _) in enumerate(decoded) if pixels is not None]
    outputs = predict(np.stack([decoded[index][0] for index in good])) if good else np.zeros((0, 0))
    outputs = np.asarray(outputs[0] if isinstance(outputs, (list, tuple)) else outputs, dtype="float32")
    result = []
    for path, (_, error) in zip(paths, decoded):
        result.append({"path": path, "error": error})
    for index, output in zip(good, outputs):
        row = result[index]
        if top is None:
            row["features"] = output.reshape(-1).tolist()
        else:
            best = np.argsort(-output, kind="stable")[:top]
            for rank, klass in enumerate(best, start=1):
                row[f"label_{rank}"] = class_names[klass] if klass < len(class_names) else str(klass)
                row[f"score_{rank}"] = float(output[klass])
    return result


CALIBRATION_IMAGES = 256


def calibration_sample(paths, decode, precision):
    """For a reduced `precision`: up to CALIBRATION_IMAGES of the run's own images, spread over `paths` (a quarter
    held out by the predictor to measure agreement on), decoded; None for float32."""
    if precision == "float32":
        return None
    step = max(1, len(paths) // CALIBRATION_IMAGES)
    decoded = [decode(path)[0] for path in paths[::step][:CALIBRATION_IMAGES]]
    return np.stack([pixels for pixels in decoded if pixels is not None] or [np.zeros((0,))])


def build_predictor(source, paths, *, precision, engine, batch_size, threads, verbose):
    """The predictor of a `predict_files` run (and each of its Ray actors), and its Decoder."""
    decode = Decoder(source)
    calibration = calibration_sample(paths, decode, precision)
    predict = make_predictor(
        source.model, engine=engine, precision=precision, calibration=calibration, batch_size=batch_size,
        threads=threads, verbose=verbose,
    )  # fmt: skip
    return predict, decode
