"""The few custom layers the famous networks need, each a registered serializable class.

Everything here is written with `keras.ops`, so it runs on the TensorFlow, JAX and torch backends
and reloads from `.keras` files with `safe_mode=True`.
"""

import numpy as np
import keras
from keras import ops

from . import preprocessing

PACKAGE = "keras_famous"


@keras.saving.register_keras_serializable(package=PACKAGE)
def lecun_tanh(x):
    """LeNet-5's squashing function f(a) = A tanh(S a), A = 1.7159, S = 2/3 (LeCun et al. 1998, App. A)."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package=PACKAGE)
class LocalResponseNormalization(keras.layers.Layer):
    """Cross-channel local response normalisation (Krizhevsky et al. 2012, Sec. 3.3).

    b = a / (k + alpha * sum_{n-window} a^2) ** beta, the sum running over `depth_radius * 2 + 1`
    adjacent channels. The paper's constants are k=2, n=5, alpha=1e-4, beta=0.75; as in the paper
    (and `tf.nn.local_response_normalization`) alpha is not divided by n (Caffe divides it).
    """

    def __init__(self, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        self.depth_radius = int(depth_radius)
        self.bias = float(bias)
        self.alpha = float(alpha)
        self.beta = float(beta)

    def call(self, inputs):
        squared = ops.square(inputs)
        radius = self.depth_radius
        padded = ops.pad(squared, [[0, 0], [0, 0], [0, 0], [radius, radius]])
        channels = ops.shape(inputs)[-1]
        window_sum = padded[..., 0:channels]
        for offset in range(1, 2 * radius + 1):
            window_sum = window_sum + padded[..., offset : offset + channels]
        scale = ops.power(self.bias + self.alpha * window_sum, self.beta)
        return inputs / scale

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(depth_radius=self.depth_radius, bias=self.bias, alpha=self.alpha, beta=self.beta)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrainableSubsampling(keras.layers.Layer):
    """LeNet-5's S2/S4 layers: the sum of each 2x2 window times a trainable coefficient plus a trainable
    bias, per feature map, then the squashing function (LeCun et al. 1998, Sec. II-B): 2 parameters a map."""

    def __init__(self, pool_size=2, activation=lecun_tanh, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = int(pool_size)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        channels = input_shape[-1]
        self.coefficient = self.add_weight(name="coefficient", shape=(channels,), initializer="ones")
        self.bias = self.add_weight(name="bias", shape=(channels,), initializer="zeros")

    def call(self, inputs):
        size = self.pool_size
        window_sum = ops.average_pool(inputs, size, strides=size, padding="valid") * float(size * size)
        return self.activation(window_sum * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        size = self.pool_size
        return (batch, None if height is None else height // size, None if width is None else width // size, channels)

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=self.pool_size, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class PartialConv2D(keras.layers.Layer):
    """A convolution whose output maps each see only a subset of the input maps (LeNet-5's C3, Table I).

    `connection_table[j]` lists the input maps of output map j. Only the listed connections carry
    weights: the kernel has shape (kh, kw, number_of_connections), so the parameter count is the
    paper's (C3: 60 connections * 25 + 16 biases = 1,516), not that of a dense 5x5x6x16 kernel.
    """

    def __init__(self, connection_table, kernel_size=5, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.connection_table = [[int(i) for i in inputs] for inputs in connection_table]
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)
        self.filters = len(self.connection_table)
        self.connections = sum(len(inputs) for inputs in self.connection_table)

    def build(self, input_shape):
        in_channels = input_shape[-1]
        # index into [kernel connections..., zero]: full[..., i, j] = kernel[..., k] if (i -> j) is connection k
        gather = np.full((in_channels, self.filters), self.connections, dtype="int32")
        k = 0
        for j, inputs in enumerate(self.connection_table):
            for i in inputs:
                if not 0 <= i < in_channels:
                    raise ValueError(f"connection_table names input map {i}, but the input has {in_channels} maps.")
                gather[i, j] = k
                k += 1
        self._gather_index = gather.reshape(-1)
        self._in_channels = in_channels
        size = self.kernel_size
        self.kernel = self.add_weight(name="kernel", shape=(size, size, self.connections), initializer="glorot_uniform")
        self.bias = self.add_weight(name="bias", shape=(self.filters,), initializer="zeros")

    def dense_kernel(self):
        """The equivalent full (kh, kw, in, out) kernel, zero where the table has no connection."""
        size = self.kernel_size
        padded = ops.concatenate([self.kernel, ops.zeros((size, size, 1), dtype=self.kernel.dtype)], axis=-1)
        full = ops.take(padded, self._gather_index, axis=-1)
        return ops.reshape(full, (size, size, self._in_channels, self.filters))

    def call(self, inputs):
        kernel = ops.cast(self.dense_kernel(), inputs.dtype)
        outputs = ops.conv(inputs, kernel, strides=1, padding="valid") + ops.cast(self.bias, inputs.dtype)
        return self.activation(outputs)

    def compute_output_shape(self, input_shape):
        batch, height, width, _ = input_shape
        shrink = self.kernel_size - 1
        return (
            batch,
            None if height is None else height - shrink,
            None if width is None else width - shrink,
            self.filters,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            connection_table=self.connection_table,
            kernel_size=self.kernel_size,
            activation=keras.activations.serialize(self.activation),
        )
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class EuclideanRBF(keras.layers.Layer):
    """LeNet-5's output layer: one Euclidean radial basis unit per class (LeCun et al. 1998, Sec. II-B).

    Unit i computes the penalty y_i = sum_j (x_j - w_ij)^2 against a fixed prototype w_i of +-1 values
    (the paper's 7x12 class bitmaps). The prototypes are not trained (84 x 10 = 840 fixed weights).
    The layer returns -y_i, so that the nearest prototype has the largest score and a softmax over the
    scores gives the paper's discriminative criterion (Sec. II-C, Eq. 9) up to its constant j.
    `activation` (the classifier activation) is applied to those scores.
    """

    def __init__(self, prototypes, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.prototypes = np.asarray(prototypes, dtype="float32").tolist()
        self.units = len(self.prototypes)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        prototypes = np.asarray(self.prototypes, dtype="float32")
        if input_shape[-1] != prototypes.shape[1]:
            raise ValueError(
                f"EuclideanRBF prototypes have {prototypes.shape[1]} components but the input has {input_shape[-1]}."
            )
        self.centers = self.add_weight(
            name="centers",
            shape=prototypes.T.shape,
            initializer=keras.initializers.Constant(prototypes.T),
            trainable=False,
        )

    def call(self, inputs):
        centers = ops.cast(self.centers, inputs.dtype)
        # |x - w|^2 = |x|^2 - 2 x.w + |w|^2
        penalty = (
            ops.sum(ops.square(inputs), axis=-1, keepdims=True)
            - 2.0 * ops.matmul(inputs, centers)
            + ops.sum(ops.square(centers), axis=0)
        )
        return self.activation(-penalty)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        config = super().get_config()
        config.update(prototypes=self.prototypes, activation=keras.activations.serialize(self.activation))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledResidual(keras.layers.Layer):
    """`shortcut + scale * residual` (Szegedy et al. 2016, Sec. 3.3: scaling the residuals by 0.1-0.3
    before the addition stabilises training of the Inception-ResNets)."""

    def __init__(self, scale, **kwargs):
        super().__init__(**kwargs)
        self.scale = float(scale)

    def call(self, inputs):
        shortcut, residual = inputs
        return shortcut + residual * self.scale

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class ChannelSlice(keras.layers.Layer):
    """x[..., start:stop]: one group's input channels (inference.inference_model(split_grouped=True))."""

    def __init__(self, start, stop, **kwargs):
        super().__init__(**kwargs)
        self.start, self.stop = int(start), int(stop)

    def call(self, x):
        return x[..., self.start : self.stop]

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.stop - self.start)

    def get_config(self):
        return {**super().get_config(), "start": self.start, "stop": self.stop}


def _same_padding(side, size, stride):
    """(before, after) of TensorFlow's "same" padding along one side: the odd pixel goes after."""
    total = max(size - (side % stride or stride), 0)
    return total // 2, total - total // 2


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnpaddedAveragePooling2D(keras.layers.AveragePooling2D):
    """AveragePooling2D whose "same" padding never enters an average, on every backend.

    Keras' torch backend pads uneven "same" padding (stride 2 over an even side: one pixel after only)
    with zeros before pooling, so the border windows average those zeros too (keras-team/keras#18452,
    #19721), where TensorFlow and JAX divide by the real pixels. Here the input and a map of ones are
    zero-padded the TensorFlow way and pooled "valid": window sum / real-pixel count, the same everywhere.
    Inputs of unknown size (a symbolic TensorFlow graph) use the layer's own pooling, exact there.
    """

    def call(self, inputs):
        height, width = inputs.shape[1:3] if self.data_format == "channels_last" else inputs.shape[2:4]
        if self.padding != "same" or height is None or width is None:
            return super().call(inputs)
        pads = [
            _same_padding(side, size, stride)
            for side, size, stride in zip((height, width), self.pool_size, self.strides)
        ]
        pads = [(0, 0), *pads, (0, 0)] if self.data_format == "channels_last" else [(0, 0), (0, 0), *pads]
        ones = ops.ones_like(inputs[..., :1] if self.data_format == "channels_last" else inputs[:, :1])
        pool = dict(pool_size=self.pool_size, strides=self.strides, padding="valid", data_format=self.data_format)
        sums = ops.average_pool(ops.pad(inputs, pads), **pool)
        counts = ops.average_pool(ops.pad(ones, pads), **pool)
        return sums / counts


@keras.saving.register_keras_serializable(package=PACKAGE)
class CaffePooling2D(keras.layers.Layer):
    """Caffe's pooling without padding, which rounds the output side up ("ceil mode"):
    ceil((side - pool_size) / strides) + 1, the last window overhanging the map.

    `method="max"` takes the maximum of the real pixels of each window (the overhang repeats the last row and
    column, which every overhanging window also holds: exact for any input); `method="ave"` divides each window's
    sum by its real pixels, as Caffe does without padding. Keras' "valid" rounds down and "same" pads on both
    sides when the side is odd, so neither matches Caffe there (NiN's 27 -> 13 where "same" gives 14).
    """

    def __init__(self, pool_size=3, strides=2, method="max", **kwargs):
        super().__init__(**kwargs)
        if method not in ("max", "ave"):
            raise ValueError(f"CaffePooling2D `method` must be 'max' or 'ave'; received method={method!r}.")
        self.pool_size, self.strides, self.method = int(pool_size), int(strides), method

    def _overhang(self, x, axis, fill):
        extra = self.strides - 1  # padding by strides - 1 makes "valid" round up
        if extra < 1:
            return x
        if fill is None:  # repeat the last row / column
            edge = x[:, -1:] if axis == 1 else x[:, :, -1:]
            return ops.concatenate([x] + [edge] * extra, axis=axis)
        pads = [[0, 0]] * 4
        pads[axis] = [0, extra]
        return ops.pad(x, pads, constant_values=fill)

    def call(self, inputs):
        pool = dict(pool_size=self.pool_size, strides=self.strides, padding="valid")
        if self.method == "max":
            x = self._overhang(self._overhang(inputs, 1, None), 2, None)
            return ops.max_pool(x, **pool)
        ones = ops.ones_like(inputs[..., :1])
        sums = ops.average_pool(self._overhang(self._overhang(inputs, 1, 0.0), 2, 0.0), **pool)
        counts = ops.average_pool(self._overhang(self._overhang(ones, 1, 0.0), 2, 0.0), **pool)
        return sums / counts

    def compute_output_shape(self, input_shape):
        def side(size):
            return None if size is None else -(-(size - self.pool_size) // self.strides) + 1

        return (input_shape[0], side(input_shape[1]), side(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "method": self.method}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ImagePreprocessing(keras.layers.Layer):
    """Pixels in [0, 255] (RGB; any channel count, see `preprocessing.channel_constants`) -> the input of weights trained with
    `mode`: what `keras_famous.preprocessing.scale(images, mode)` computes, with the same constants, as a layer
    (the first layer of a model built with `include_preprocessing=True`). It has no weights and computes in
    float32 under any dtype policy unless `dtype` is given.

        caffe   RGB -> BGR, minus the ImageNet mean pixel      torch   / 255, minus the ImageNet mean, / its std
        tf      / 127.5 - 1                                    digits  / 255 * 1.275 - 0.1 (LeNet-5)
    """

    CAFFE_MEAN_RGB = np.ascontiguousarray(preprocessing.CAFFE_MEAN_BGR[::-1])

    def __init__(self, mode, **kwargs):
        if mode not in preprocessing.MODES:
            raise ValueError(f"Unknown preprocessing `mode` {mode!r}; choose one of {preprocessing.MODES}.")
        if kwargs.get("dtype") is None:
            kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.mode = mode

    def build(self, input_shape):
        self.channels = input_shape[-1]
        if self.mode in ("caffe", "torch") and self.channels is None:
            raise ValueError(f"Preprocessing mode {self.mode!r} needs a known number of input channels.")

    def _constant(self, values):
        return ops.convert_to_tensor(values, dtype=self.compute_dtype)

    def call(self, inputs):
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "caffe" and self.channels == 3:  # TFLite int8 gets flip-then-subtract wrong: subtract first
            return ops.flip(x - self._constant(self.CAFFE_MEAN_RGB), axis=-1)
        if self.mode in ("caffe", "torch"):  # 1 or N channels: preprocessing.channel_constants
            order, mean, std = preprocessing.channel_constants(self.mode, self.channels)
            if self.mode == "caffe":
                return ops.take(x, order, axis=-1) - self._constant(mean)
            return (x / 255.0 - self._constant(mean)) / self._constant(std)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        return x / 255.0 * 1.275 - 0.1

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}
