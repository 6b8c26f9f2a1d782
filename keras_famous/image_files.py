"""Reading image files into pixels, the one way training and inference both read them (TensorFlow ops, so
they run in `tf.data` pipelines and in threads, whatever the Keras backend).

Any file TensorFlow decodes (JPEG, PNG, BMP, GIF's first frame; grayscale with or without alpha, RGB, RGBA, a
palette, 8 or 16 bits) comes out with 1, 3 or 4 channels in [0, 255], sized one of two ways:
- `decode`: the whole image resized to the size (what `keras-famous train` trains and tests on);
- `decode_center`: the central square of `fraction` of the shorter side, resized (ImageNet evaluation's
  "resize to 256, crop 224" is `fraction=0.875`), so the aspect ratio is kept.
"""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
IMAGENET_CROP_FRACTION = 0.875  # 224 / 256


def check_channels(channels):
    if channels not in (1, 3, 4):
        raise ValueError(
            f"Image files hold 1, 3 or 4 channels; this model takes {channels}. Train it on arrays instead "
            "(training.fit)."
        )


def read(path, channels):
    """An image file's pixels in [0, 1] with `channels` (1, 3 or 4) channels, whatever it holds: grayscale (with
    alpha), RGB, RGBA, a palette, 8 or 16 bits (decoded as stored, then converted: BMP decodes no other way)."""
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), dtype=tf.float32, expand_animations=False)
    stored = tf.shape(image)[-1]
    gray = image[..., :1]
    if channels == 1:
        image = tf.cond(stored >= 3, lambda: tf.image.rgb_to_grayscale(image[..., :3]), lambda: gray)
    else:
        color = tf.cond(stored >= 3, lambda: image[..., :3], lambda: tf.image.grayscale_to_rgb(gray))
        if channels == 4:
            opaque = tf.ones_like(gray)
            color = tf.cond(stored == 4, lambda: image, lambda: tf.concat([color, opaque], -1))
        image = color
    image.set_shape([None, None, channels])
    return image


def decode(path, size, channels):
    """An image file -> float32 pixels in [0, 255] at `size` (height, width), with `channels` channels."""
    import tensorflow as tf

    return tf.image.resize(read(path, channels) * 255.0, size)


def decode_center(path, size, channels, fraction=IMAGENET_CROP_FRACTION):
    """An image file -> the central square of `fraction` of its shorter side at `size`, in [0, 255]."""
    import tensorflow as tf

    image = read(path, channels)
    height, width = tf.shape(image)[0], tf.shape(image)[1]
    side = tf.maximum(1, tf.cast(tf.cast(tf.minimum(height, width), tf.float32) * fraction, tf.int32))
    top, left = (height - side) // 2, (width - side) // 2
    return tf.image.resize(image[top : top + side, left : left + side] * 255.0, size)
