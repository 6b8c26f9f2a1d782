"""Reduced precision, guarded: a bfloat16 or int8 engine is used only where its top-1 class agrees with the
float32 Keras model's on images it was not calibrated on.

The images come from the user: `calibration` (typical inputs; an int8 engine takes its ranges from them) and
`validation` (where agreement is measured), or, without `validation`, the last quarter of `calibration` held
out. Degenerate data is refused before anything is measured, since it would pass any guard: images that are
blank (every pixel of an image the same), or on which the float32 model's outputs barely vary (they are not
what the model sees; agreement on them says nothing).
"""

import numpy as np

from ..arguments import named, setting

MIN_VALIDATION = 10  # fewer held-out images cannot tell 99% agreement from 90%
HOLD_OUT = 0.25
MIN_SPREAD = 1e-3  # the float32 outputs' spread over the images, relative to their magnitude


def _images(name, images, input_shape):
    images = np.asarray(images, dtype="float32")
    expected = tuple(input_shape[1:])
    if images.ndim != len(expected) + 1 or any(w is not None and w != g for w, g in zip(expected, images.shape[1:])):
        wanted = "(N, " + ", ".join("any" if side is None else str(side) for side in expected) + ")"
        raise ValueError(f"{name} must be images of shape {wanted} as the model takes them; received {images.shape}.")
    return images


def split(calibration, validation, input_shape, arguments=("calibration", "validation")):
    """(calibration images, validation images): `validation` as given, else the last quarter of `calibration`.
    `arguments`: the two arguments' names, for the errors."""
    calibration_name, validation_name = (named(argument) for argument in arguments)
    if calibration is None and validation is None:
        raise ValueError(
            f"A bfloat16 or int8 predictor needs {calibration_name} images (typical inputs, as the model takes them) "
            f"to be checked on; pass them, or {setting('precision', 'float32')}."
        )
    calibration = None if calibration is None else _images(calibration_name, calibration, input_shape)
    if validation is not None:
        validation = _images(validation_name, validation, input_shape)
    elif len(calibration) >= 2 * MIN_VALIDATION:
        held = max(MIN_VALIDATION, int(len(calibration) * HOLD_OUT))
        calibration, validation = calibration[:-held], calibration[-held:]
    else:
        raise ValueError(
            f"{calibration_name} has {len(calibration)} images: at least {2 * MIN_VALIDATION} are needed to hold "
            f"{MIN_VALIDATION} out for measuring agreement (or pass {validation_name} images)."
        )
    if len(validation) < MIN_VALIDATION:
        raise ValueError(f"{validation_name} has {len(validation)} images; at least {MIN_VALIDATION} are needed.")
    return calibration, validation


def check_not_blank(name, images):
    """ValueError naming `name` when most `images` are blank (every pixel of an image the same)."""
    blank = np.ptp(images.reshape(len(images), -1), axis=1) == 0
    if blank.mean() > 0.5:
        raise ValueError(
            f"{int(blank.sum())} of the {len(images)} {name} images are blank (every pixel the same): they "
            "cannot calibrate or check reduced precision. Pass typical inputs."
        )


def check_not_degenerate(name, images, outputs):
    """ValueError naming `name` when `images` are blank or the float32 `outputs` on them barely vary."""
    check_not_blank(name, images)
    outputs = np.asarray(outputs, dtype="float64").reshape(len(outputs), -1)
    spread = float(np.mean(np.std(outputs, axis=0)) / (np.mean(np.abs(outputs)) + 1e-12))
    if spread < MIN_SPREAD:
        raise ValueError(
            f"The float32 model's outputs barely vary over the {name} images (relative spread {spread:.2g}): "
            "they are not typical inputs, and agreement on them would say nothing. Pass typical inputs."
        )


def top1_agreement(outputs, reference):
    """The fraction of images whose top-1 class in `outputs` is the one in `reference`."""
    outputs, reference = np.asarray(outputs), np.asarray(reference)
    return float(
        np.mean(
            np.argmax(outputs.reshape(len(outputs), -1), -1) == np.argmax(reference.reshape(len(reference), -1), -1)
        )
    )
