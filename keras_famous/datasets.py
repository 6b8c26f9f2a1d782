"""Real images available offline, prepared as the catalog's networks expect them.

`digits_32x32`: scikit-learn's handwritten digits (1,797 8x8 scans of 43 writers, UCI), resized to
28x28 and centred in a 32x32 field like LeNet-5's MNIST inputs (Sec. III-A), scaled so background is
-0.1 and ink 1.175 (Sec. II-A: mean about 0, variance about 1). The split is fixed (stratified,
seed 0, 25% test) so that recorded accuracies are reproducible. Needs scikit-learn.
"""

import numpy as np

DIGITS_TEST_FRACTION = 0.25
DIGITS_SEED = 0


def _resize(images, size):
    """Bilinear resize of a batch of single-channel images (N, H, W) -> (N, size, size)."""
    import tensorflow as tf

    return tf.image.resize(images[..., None], (size, size), method="bilinear").numpy()[..., 0]


def digits_32x32(pixels=False):
    """((x_train, y_train), (x_test, y_test)); x is float32 (N, 32, 32, 1), y int64 in 0..9. With `pixels`,
    x is the grey level in [0, 255] (ink 255), the input of a model built with `include_preprocessing`."""
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError as error:
        raise ImportError("The digits set comes with scikit-learn: `pip install scikit-learn`.") from error
    digits = load_digits()
    images = digits.images.astype("float32") / 16.0  # ink 1, background 0
    field = np.zeros((len(images), 32, 32), dtype="float32")
    field[:, 2:30, 2:30] = np.clip(_resize(images, 28), 0.0, 1.0)
    x = (field * 255.0 if pixels else field * 1.275 - 0.1)[..., None].astype("float32")
    y = digits.target.astype("int64")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SEED, stratify=y
    )
    return (x_train, y_train), (x_test, y_test)
