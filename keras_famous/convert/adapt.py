"""Pretrained weights for another task: another number of classes or of input channels (what timm's
`num_classes` and `in_chans` do; keras.applications refuses both).

- **Classes.** A classifier layer of the family (`head_layers`) whose every array differs from the file's in
  the last axis only (Dense and 1x1-convolution classifiers, auxiliary heads, LeNet-5's RBF) keeps the
  model's own initialisation: a new classifier, which must be trained.
- **Channels.** The input convolution (the model's first layer with weights) takes the file's kernel summed
  over its channels for a one-channel input (grayscale x then gives what the RGB model gives for x repeated
  three times), else the kernel repeated channel after channel and scaled by file channels / model channels
  (timm's `adapt_input_conv`; LeNet-5's one-channel digits kernel into RGB is the same rule).
"""

import numpy as np


def input_kernel(kernel, channels):
    """An (kh, kw, c, out) convolution kernel for `channels` input channels (module note)."""
    found = kernel.shape[2]
    if channels == found:
        return kernel
    if channels == 1:
        return kernel.sum(axis=2, keepdims=True)
    return np.take(kernel, np.arange(channels) % found, axis=2) * (found / channels)


def _shapes(arrays):
    return [tuple(np.shape(array)) for array in arrays]


def _differs_in_last_axis_only(expected, found):
    return (
        len(expected) == len(found)
        and expected != found
        and all(len(e) == len(f) and e[:-1] == f[:-1] for e, f in zip(expected, found))
    )


def input_layer(model):
    """The layer whose kernel reads the image: the model's first layer with weights, if it is a convolution."""
    layer = next((layer for layer in model.layers if layer.weights), None)
    kernel = layer.weights[0] if layer is not None else None
    return layer if kernel is not None and len(kernel.shape) == 4 else None


class Adapter:
    """Decides, layer by layer, whether a file's arrays that do not fit can be adapted, and remembers what it did
    (`new_classifier`, `adapted_input`) for one warning."""

    def __init__(self, model, head_layers):
        self.head_layers = frozenset(head_layers)
        self.input_layer = input_layer(model)
        self.new_classifier = []
        self.adapted_input = None  # (layer name, file channels, model channels)

    def _plan(self, layer, arrays):
        """("fits" | "new" | "input" | "mismatch", arrays for the layer)."""
        expected, found = _shapes(layer.weights), _shapes(arrays)
        if expected == found:
            return "fits", arrays
        if layer.name in self.head_layers and _differs_in_last_axis_only(expected, found):
            return "new", None
        if layer is self.input_layer and len(found[0]) == 4:
            kernel = input_kernel(np.asarray(arrays[0]), expected[0][2])
            if _shapes([kernel, *arrays[1:]]) == expected:
                return "input", [kernel, *arrays[1:]]
        return "mismatch", arrays

    def fits(self, layer, arrays):
        """Whether `arrays` fit `layer` as they are or adapted."""
        return self._plan(layer, arrays)[0] != "mismatch"

    def fit(self, layer, arrays):
        """`arrays` made to fit `layer`: adapted, None (keep the layer's own initialisation: a new classifier),
        or unchanged when nothing applies (the caller then reports the mismatch)."""
        kind, fitted = self._plan(layer, arrays)
        if kind == "new":
            self.new_classifier.append(layer.name)
        elif kind == "input":
            self.adapted_input = (layer.name, np.shape(arrays[0])[2], np.shape(fitted[0])[2])
        return fitted

    def message(self, model, source):
        """What was adapted, for a warning (None when nothing was)."""
        parts = []
        if self.new_classifier:
            parts.append(
                f"{source} was trained for another number of classes than this model's, so the classifier layers "
                f"{self.new_classifier} are new (randomly initialised): train them before use"
            )
        if self.adapted_input:
            name, found, channels = self.adapted_input
            rule = "summed over its channels" if channels == 1 else f"repeated and scaled by {found}/{channels}"
            parts.append(f"the input convolution {name!r} was adapted from {found} to {channels} channels ({rule})")
        return f"{model.name}: " + "; ".join(parts) + "." if parts else None
