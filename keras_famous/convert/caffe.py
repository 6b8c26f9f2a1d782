"""Caffe's `.caffemodel` files (a serialized `NetParameter`), read without Caffe and without a protobuf schema: a
small reader of the protobuf wire format that takes only the fields weights need.

The fields, from BVLC Caffe's `src/caffe/proto/caffe.proto` (number: name):

    NetParameter        1: name, 2: layers (V1LayerParameter, 2014 files), 100: layer (LayerParameter, 2015 on)
    V1LayerParameter    4: name, 5: type (enum, V1_TYPES), 6: blobs; 1: a V0 layer (2013 files, refused)
    LayerParameter      1: name, 2: type (string), 7: blobs
    BlobProto           1-4: num, channels, height, width (the 2014 spelling), 7: shape (BlobShape, 2015 on),
                        5: data (packed float32), 8: double_data (packed float64)
    BlobShape           1: dim (packed int64)

Blobs keep Caffe's layouts: a convolution's weights are (out, in / groups, kh, kw) and its bias a vector; a fully
connected layer's weights are (out, in), which 2014 files store as a 1 x 1 x out x in blob (biases 1 x 1 x 1 x out).
Caffe flattens a (C, H, W) map before its first fully connected layer; `layout.dense_kernel` reorders that input
axis to Keras' (H, W, C). Images go in as Caffe trained on them: BGR, minus the mean pixel (the "caffe" mode).
"""

import os
import struct
from typing import List, NamedTuple

import numpy as np

from . import layout
from .adapt import input_layer
from .state_dict import keras_name

# V1LayerParameter.LayerType, as caffe.proto numbers them, by the names V2 files spell as strings
V1_TYPES = {
    0: "None", 1: "Accuracy", 2: "BNLL", 3: "Concat", 4: "Convolution", 5: "Data", 6: "Dropout",
    7: "EuclideanLoss", 8: "Flatten", 9: "HDF5Data", 10: "HDF5Output", 11: "Im2col", 12: "ImageData",
    13: "InfogainLoss", 14: "InnerProduct", 15: "LRN", 16: "MultinomialLogisticLoss", 17: "Pooling", 18: "ReLU",
    19: "Sigmoid", 20: "Softmax", 21: "SoftmaxWithLoss", 22: "Split", 23: "TanH", 24: "WindowData", 25: "Eltwise",
    26: "Power", 27: "SigmoidCrossEntropyLoss", 28: "HingeLoss", 29: "MemoryData", 30: "ArgMax", 31: "Threshold",
    32: "DummyData", 33: "Slice", 34: "MVN", 35: "AbsVal", 36: "Silence", 37: "ContrastiveLoss", 38: "Exp",
    39: "Deconvolution",
}  # fmt: skip

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class CaffeLayer(NamedTuple):
    name: str
    type: str  # V2's string ("Convolution", "InnerProduct", ...); V1's enum read as the same string
    blobs: List[np.ndarray]


class CaffeNet(NamedTuple):
    name: str
    format: str  # "V1" (`layers`, enum types) or "V2" (`layer`, string types)
    layers: List[CaffeLayer]


class _Truncated(ValueError):
    pass


def _varint(data, position):
    value, shift = 0, 0
    while True:
        if position >= len(data):
            raise _Truncated("a number runs past the end")
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, position
        shift += 7


def _fields(data):
    """(field number, wire type, value) of each field of one message: an int for varints and fixed-width
    numbers (their raw bytes for fixed32/64), a memoryview for length-delimited fields."""
    position, end = 0, len(data)
    while position < end:
        key, position = _varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == VARINT:
            value, position = _varint(data, position)
        elif wire in (FIXED64, FIXED32):
            size = 8 if wire == FIXED64 else 4
            value, position = data[position : position + size], position + size
        elif wire == LENGTH:
            size, position = _varint(data, position)
            value, position = data[position : position + size], position + size
        else:
            raise ValueError(f"wire type {wire} (field {number}) is not one protobuf 2 writes")
        if position > end:
            raise _Truncated(f"field {number} runs past the end")
        yield number, wire, value


def _packed_varints(data):
    values, position = [], 0
    while position < len(data):
        value, position = _varint(data, position)
        values.append(value)
    return values


def _blob(data, where):
    """A BlobProto as a float32 array of its shape (`shape`, else num/channels/height/width, absent ones 1)."""
    legacy, dims, chunks = {}, None, []
    for number, wire, value in _fields(data):
        if number in (1, 2, 3, 4) and wire == VARINT:
            legacy[number] = value
        elif number == 7 and wire == LENGTH:
            dims = []
            for field, kind, dim in _fields(value):
                if field == 1:
                    dims += _packed_varints(dim) if kind == LENGTH else [dim]
        elif number == 5:  # packed, or (not as Caffe writes it) one fixed32 per value
            chunks.append(np.frombuffer(value, dtype="<f4"))
        elif number == 8:
            chunks.append(np.frombuffer(value, dtype="<f8").astype("float32"))
    values = chunks[0] if len(chunks) == 1 else np.concatenate(chunks or [np.zeros(0, "float32")])
    if dims is None:
        dims = [legacy.get(number, 1) for number in (1, 2, 3, 4)] if legacy else [values.size]
    if int(np.prod(dims)) != values.size:
        raise ValueError(f"{where} has a blob of shape {tuple(dims)} but {values.size} values")
    return values.astype("float32", copy=False).reshape(dims)


def _layer(data, version, index):
    """One V1LayerParameter or LayerParameter."""
    name_field, type_field, blobs_field = (4, 5, 6) if version == "V1" else (1, 2, 7)
    name, kind, blob_data = None, None, []
    for number, wire, value in _fields(data):
        if number == name_field and wire == LENGTH:
            name = bytes(value).decode("utf8")
        elif number == type_field:
            kind = V1_TYPES.get(value, f"type {value}") if version == "V1" else bytes(value).decode("utf8")
        elif number == blobs_field and wire == LENGTH:
            blob_data.append(value)
        elif version == "V1" and number == 1 and wire == LENGTH:
            raise ValueError(
                "it is in Caffe's first (V0, 2013) format; upgrade it with Caffe's upgrade_net_proto_binary first"
            )
    name = name if name is not None else f"<unnamed layer {index}>"
    return CaffeLayer(name, kind or "", [_blob(blob, f"layer {name!r}") for blob in blob_data])


def parse(data, source="the file"):
    """The CaffeNet of serialized NetParameter bytes; ValueError naming `source` and what is wrong."""
    data = memoryview(data)
    name, found = "", {"V1": [], "V2": []}
    try:
        for number, wire, value in _fields(data):
            if number == 1 and wire == LENGTH:
                name = bytes(value).decode("utf8", "replace")
            elif number == 2 and wire == LENGTH:
                found["V1"].append(value)
            elif number == 100 and wire == LENGTH:
                found["V2"].append(value)
        version = "V2" if found["V2"] else "V1"
        layers = [_layer(raw, version, index) for index, raw in enumerate(found[version])]
    except _Truncated as error:
        raise ValueError(f"{source} is not a whole .caffemodel (truncated?): {error}.") from None
    except (ValueError, UnicodeDecodeError, struct.error) as error:
        raise ValueError(f"{source} is not a readable Caffe NetParameter (.caffemodel): {error}.") from None
    if not layers:
        raise ValueError(f"{source} is not a Caffe .caffemodel: it holds no layers (`layers` or `layer`).")
    return CaffeNet(name, version, layers)


def read_caffemodel(path):
    """The CaffeNet of a `.caffemodel` file (the whole file is read once; blobs are views of it)."""
    source = repr(os.fspath(path))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise ValueError(f"Cannot read the Caffe model {source}: {error}.") from error
    return parse(data, source)


def _vector(blob):
    return blob.reshape(-1)


def _dense_weight(blob):
    """(out, in) from V2's (out, in) or V1's 1 x 1 x out x in."""
    if blob.ndim == 4 and blob.shape[:2] == (1, 1):
        return blob.reshape(blob.shape[2:])
    if blob.ndim != 2:
        raise ValueError(f"its weights have shape {blob.shape}, not a fully connected layer's (out, in)")
    return blob


def keras_arrays(layer, caffe_layer):
    """The `set_weights` list of the Keras `layer` from one Caffe layer's blobs (weights, then bias if any)."""
    blobs = caffe_layer.blobs
    if len(blobs) not in (1, 2):
        raise ValueError(f"it has {len(blobs)} blobs, where a convolution or fully connected layer has 1 or 2")
    params = {} if len(blobs) == 1 else {"bias": _vector(blobs[1])}
    kind = type(layer).__name__
    if kind == "Dense":
        params["weight"] = _dense_weight(blobs[0])
    elif blobs[0].ndim == 4:
        params["weight"] = blobs[0]
    else:
        raise ValueError(f"its weights have shape {blobs[0].shape}, not a convolution's (out, in / groups, kh, kw)")
    return layout.keras_weights(layer, params)


def named_arrays(model, path, rules, head_layers=frozenset()):
    """({keras layer name: arrays}, problems) of a `.caffemodel`, through the family's Caffe name map `rules`.
    Layers without blobs (ReLU, pooling, LRN, ...) carry nothing. A layer that maps to one this model lacks (an
    auxiliary head it was built without) is passed on by name for `assign` to skip or report. Where a layer's
    arrays cannot fit (neither a classifier of `head_layers` nor the input convolution, which `assign` may adapt),
    a problem names the Caffe layer and its blobs, beside the shapes `assign` reports."""
    layers_by_name = {layer.name: layer for layer in model.layers}
    adaptable = set(head_layers) | {getattr(input_layer(model), "name", None)}
    named, problems = {}, []
    for caffe_layer in read_caffemodel(path).layers:
        if not caffe_layer.blobs:
            continue
        name = keras_name(caffe_layer.name, rules)
        if name is None:
            problems.append(f"no Keras layer for Caffe layer {caffe_layer.name!r} ({caffe_layer.type})")
        elif name not in layers_by_name:
            named[name] = list(caffe_layer.blobs)
        else:
            try:
                named[name] = keras_arrays(layers_by_name[name], caffe_layer)
            except (KeyError, ValueError) as error:
                problems.append(f"Caffe layer {caffe_layer.name!r} does not fit layer {name!r}: {error}")
                continue
            expected = [tuple(weight.shape) for weight in layers_by_name[name].weights]
            if name not in adaptable and [array.shape for array in named[name]] != expected:
                blobs = [blob.shape for blob in caffe_layer.blobs]
                problems.append(f"layer {name!r} takes Caffe layer {caffe_layer.name!r}, whose blobs are {blobs}")
    return named, problems
