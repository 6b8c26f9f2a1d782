"""The shared vocabulary of the families: small functions on Functional tensors.

Layer names follow keras.applications (`conv2_block1_1_conv`, `block1_conv1`, `fc1`, `predictions`),
so that Keras weight files load by name into the models that keras.applications also builds.
"""

import collections

from keras import layers


class FreshSessionNames:
    """The names Keras gives unnamed layers in a fresh session ("conv2d", "conv2d_1", ...), handed out
    in creation order for one build. keras.applications leaves many layers of InceptionV3,
    Inception-ResNet-v2 and Xception unnamed; naming ours this way keeps them equal to keras.applications'
    (built in a fresh session) whatever was built before in this one."""

    def __init__(self):
        self._counts = collections.Counter()

    def __call__(self, prefix):
        count = self._counts[prefix]
        self._counts[prefix] += 1
        return prefix if count == 0 else f"{prefix}_{count}"


def conv2d(x, filters, kernel_size, *, strides=1, groups=1, use_bias=True, activation=None, name):
    """`{name}_conv`, padded the way PyTorch and Caffe pad: symmetrically, by kernel_size // 2.

    With stride 1 that is Keras' "same"; with stride 2 "same" would pad only the bottom/right
    on even inputs, so an explicit `{name}_pad` ZeroPadding2D is used and the convolution is "valid".
    """
    if strides == 1 or kernel_size == 1:
        padding = "same" if kernel_size > 1 else "valid"
    else:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return layers.Conv2D(
        filters,
        kernel_size,
        strides=strides,
        padding=padding,
        groups=groups,
        use_bias=use_bias,
        activation=activation,
        name=f"{name}_conv",
    )(x)


def batch_norm(x, *, epsilon, name):
    return layers.BatchNormalization(axis=-1, epsilon=epsilon, name=name)(x)


def relu(x, *, name):
    return layers.Activation("relu", name=name)(x)


def conv_bn_relu(x, filters, kernel_size, *, strides=1, groups=1, use_bias=False, bn_epsilon=1e-5, activate=True, name):
    """`{name}_conv` -> `{name}_bn` -> `{name}_relu` (the ResNet/BN-VGG unit)."""
    x = conv2d(x, filters, kernel_size, strides=strides, groups=groups, use_bias=use_bias, name=name)
    x = batch_norm(x, epsilon=bn_epsilon, name=f"{name}_bn")
    return relu(x, name=f"{name}_relu") if activate else x


# ----------------------------------------------------------------------------------------------
# Tops: what follows the last feature map. `prediction_layer` keeps the activation in float32
# whatever the dtype policy (the mixed-precision rule for softmax outputs).
# ----------------------------------------------------------------------------------------------


def prediction_layer(x, classes, activation, name="predictions"):
    return layers.Dense(classes, activation=activation, dtype="float32", name=name)(x)


def global_pool(x, pooling):
    """The keras.applications `pooling` argument: None, "avg" (`avg_pool`) or "max" (`max_pool`)."""
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    return x


def average_pool_top(x, classes, activation, dropout=0.0):
    """Global average pooling, optional dropout, then the classifier (ResNet, DenseNet, GoogLeNet ...)."""
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return prediction_layer(x, classes, activation)


def fully_connected_top(x, classes, activation, *, hidden_units, hidden_names, dropout=0.0, dropout_first=False):
    """Flatten, hidden fully connected ReLU layers, then the classifier (AlexNet, ZFNet, VGG).

    `dropout` is applied after each hidden layer (or before it with `dropout_first`, torchvision's
    AlexNet order); dropout layers carry no weights, so names and weight order are unaffected.
    """
    x = layers.Flatten(name="flatten")(x)
    for units, name in zip(hidden_units, hidden_names):
        if dropout and dropout_first:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
        x = layers.Dense(units, activation="relu", name=name)(x)
        if dropout and not dropout_first:
            x = layers.Dropout(dropout, name=f"{name}_dropout")(x)
    return prediction_layer(x, classes, activation)


# ----------------------------------------------------------------------------------------------
# Residual units (He et al. 2015, Fig. 2 and 5; He et al. 2016 "Identity Mappings", Fig. 4e;
# Xie et al. 2017, Fig. 3c). Names follow keras.applications: `{name}_0` is the projection
# shortcut, `{name}_1`.. the residual branch, `{name}_add` / `{name}_out` the merge.
# ----------------------------------------------------------------------------------------------


def _projection(x, out_channels, strides, layout, name):
    shortcut = conv2d(x, out_channels, 1, strides=strides, use_bias=layout.conv_bias, name=f"{name}_0")
    return batch_norm(shortcut, epsilon=layout.bn_epsilon, name=f"{name}_0_bn")


def _merge(shortcut, x, name):
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return relu(x, name=f"{name}_out")


def basic_unit(x, *, out_channels, strides, projection, layout, name, **_):
    """Two 3x3 convolutions (ResNet-18/34)."""
    shortcut = _projection(x, out_channels, strides, layout, name) if projection else x
    unit = dict(use_bias=layout.conv_bias, bn_epsilon=layout.bn_epsilon)
    x = conv_bn_relu(x, out_channels, 3, strides=strides, name=f"{name}_1", **unit)
    x = conv_bn_relu(x, out_channels, 3, activate=False, name=f"{name}_2", **unit)
    return _merge(shortcut, x, name)


def bottleneck_unit(x, *, width, out_channels, strides, projection, layout, groups=1, name):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand. `layout.stride_in_3x3` puts the stride in
    the 3x3 (ResNet v1.5, ResNeXt) instead of the first 1x1 (the paper's and Caffe's v1)."""
    shortcut = _projection(x, out_channels, strides, layout, name) if projection else x
    reduce_strides, spatial_strides = (1, strides) if layout.stride_in_3x3 else (strides, 1)
    unit = dict(use_bias=layout.conv_bias, bn_epsilon=layout.bn_epsilon)
    x = conv_bn_relu(x, width, 1, strides=reduce_strides, name=f"{name}_1", **unit)
    x = conv_bn_relu(x, width, 3, strides=spatial_strides, groups=groups, name=f"{name}_2", **unit)
    x = conv_bn_relu(x, out_channels, 1, activate=False, name=f"{name}_3", **unit)
    return _merge(shortcut, x, name)


def preact_bottleneck_unit(x, *, width, out_channels, strides, projection, layout, name, **_):
    """Pre-activation bottleneck (ResNet v2) as keras.applications draws it: BN-ReLU first, the
    projection from the pre-activation, a 1x1/stride max pool as the strided identity, no final ReLU."""
    preact = batch_norm(x, epsilon=layout.bn_epsilon, name=f"{name}_preact_bn")
    preact = relu(preact, name=f"{name}_preact_relu")
    if projection:
        shortcut = layers.Conv2D(out_channels, 1, strides=strides, name=f"{name}_0_conv")(preact)
    elif strides > 1:
        shortcut = layers.MaxPooling2D(1, strides=strides, name=f"{name}_0_pool")(x)
    else:
        shortcut = x
    x = conv_bn_relu(preact, width, 1, use_bias=False, bn_epsilon=layout.bn_epsilon, name=f"{name}_1")
    x = layers.ZeroPadding2D(1, name=f"{name}_2_pad")(x)
    x = layers.Conv2D(width, 3, strides=strides, use_bias=False, name=f"{name}_2_conv")(x)
    x = batch_norm(x, epsilon=layout.bn_epsilon, name=f"{name}_2_bn")
    x = relu(x, name=f"{name}_2_relu")
    x = layers.Conv2D(out_channels, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])
