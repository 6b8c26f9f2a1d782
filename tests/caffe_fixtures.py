"""Caffe model zoo files written here byte by byte (the protobuf wire format, no Caffe, no protobuf package), shaped
like the released files, and the deploy prototxt that OpenCV's Caffe importer runs them with.

Each release is a list of layers in Caffe's own terms (`Conv`, `Pool`, ...), drawn from what the released file must
contain: its layer names, its blob shapes and parameter count (BVLC's deploy.prototxt of AlexNet has `group: 2` in
conv2, conv4 and conv5 in the release's own commit; one public copy lacks it, but the file's conv2 kernel of 48 input
maps and its 60,965,224 parameters need it). One description gives both files:

- the `.caffemodel`, in the format of the release's year: the 2014 files (BVLC AlexNet and GoogLeNet, both NiN
  models) are V1 NetParameters (`layers`, enum types, blobs spelled num/channels/height/width, a fully connected
  layer's weights 1 x 1 x out x in and biases 1 x 1 x 1 x out), holding the training net's layers (the data layer,
  the losses; GoogLeNet's auxiliary heads loss1/..., loss2/...); `version="V2"` writes 2015's spelling (`layer`,
  string types, blobs with a BlobShape) for the reader's other branch;
- the deploy prototxt (V2 text format, an Input layer), with the auxiliary heads where asked, so that OpenCV
  computes them too.

Weights are random (seeded, He-scaled so activations keep the input's magnitude through the ReLUs: Caffe's LRN then
changes the result, as it does on real images in Caffe's [0, 255] - mean range).
"""

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

# V1LayerParameter.LayerType numbers (caffe.proto)
V1_ENUM = {
    "Accuracy": 1, "Concat": 3, "Convolution": 4, "Data": 5, "Dropout": 6, "InnerProduct": 14, "LRN": 15,
    "Pooling": 17, "ReLU": 18, "Softmax": 20, "SoftmaxWithLoss": 21,
}  # fmt: skip


# ------------------------------------------------------------------------------------------------- wire format


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def field_bytes(number, payload):
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def field_string(number, text):
    return field_bytes(number, text.encode("utf8"))


def blob(array, version):
    """A BlobProto: V1's num/channels/height/width (leading 1s for fewer axes), or V2's BlobShape."""
    array = np.ascontiguousarray(array, dtype="<f4")
    if version == "V1":
        dims = (1,) * (4 - array.ndim) + array.shape
        head = b"".join(field_varint(number, dim) for number, dim in zip((1, 2, 3, 4), dims))
    else:
        head = field_bytes(7, field_bytes(1, b"".join(varint(dim) for dim in array.shape)))
    return head + field_bytes(5, array.tobytes())


def layer_message(name, kind, bottoms, tops, blobs, version):
    if version == "V1":  # bottom 2, top 3, name 4, type 5 (enum), blobs 6
        parts = [field_bytes(2, b.encode()) for b in bottoms] + [field_bytes(3, t.encode()) for t in tops]
        parts += [field_string(4, name), field_varint(5, V1_ENUM[kind])]
        parts += [field_bytes(6, blob(array, version)) for array in blobs]
    else:  # name 1, type 2 (string), bottom 3, top 4, blobs 7
        parts = [field_string(1, name), field_string(2, kind)]
        parts += [field_bytes(3, b.encode()) for b in bottoms] + [field_bytes(4, t.encode()) for t in tops]
        parts += [field_bytes(7, blob(array, version)) for array in blobs]
    return b"".join(parts)


# -------------------------------------------------------------------------------------------- Caffe's layers


@dataclass(frozen=True)
class Conv:
    name: str
    bottom: str
    out: int
    kernel: int
    stride: int = 1
    pad: int = 0
    group: int = 1
    top: str = None  # default: the layer's name (Caffe's convention); a ReLU follows in place


@dataclass(frozen=True)
class Pool:
    name: str
    bottom: str
    method: str  # "MAX" or "AVE"
    kernel: int
    stride: int
    pad: int = 0


@dataclass(frozen=True)
class Lrn:
    name: str
    bottom: str


@dataclass(frozen=True)
class Fc:
    name: str
    bottom: str
    out: int
    relu: bool = True


@dataclass(frozen=True)
class Concat:
    name: str
    bottoms: Tuple[str, ...]


@dataclass(frozen=True)
class Dropout:
    name: str
    bottom: str
    ratio: float


def _pooled(side, kernel, stride, pad):
    """Caffe's pooled side: rounded up, the last window starting inside the map."""
    out = int(math.ceil((side + 2 * pad - kernel) / stride)) + 1
    return out - 1 if pad and (out - 1) * stride >= side + pad else out


def _he(rng, shape, fan_in):
    return (rng.standard_normal(shape, dtype="float32") * np.float32(math.sqrt(2.0 / fan_in))).astype("float32")


def _weights(rng, layers, input_shape):
    """{layer name: [weights, bias]} and {blob: (C, H, W)} of a layer list on `input_shape` (C, H, W)."""
    shapes, weights = {"data": tuple(input_shape)}, {}
    for layer in layers:
        if isinstance(layer, Conv):
            c, h, w = shapes[layer.bottom]
            fan_in = c // layer.group * layer.kernel**2
            weights[layer.name] = [
                _he(rng, (layer.out, c // layer.group, layer.kernel, layer.kernel), fan_in),
                rng.uniform(-0.1, 0.1, layer.out).astype("float32"),
            ]
            side = lambda s: (s + 2 * layer.pad - layer.kernel) // layer.stride + 1  # noqa: E731
            shapes[layer.top or layer.name] = (layer.out, side(h), side(w))
        elif isinstance(layer, Pool):
            c, h, w = shapes[layer.bottom]
            pooled = (
                _pooled(h, layer.kernel, layer.stride, layer.pad),
                _pooled(w, layer.kernel, layer.stride, layer.pad),
            )
            shapes[layer.name] = (c, *pooled)
        elif isinstance(layer, Fc):
            fan_in = int(np.prod(shapes[layer.bottom]))
            weights[layer.name] = [
                _he(rng, (layer.out, fan_in), fan_in),
                rng.uniform(-0.1, 0.1, layer.out).astype("f4"),
            ]
            shapes[layer.name] = (layer.out, 1, 1)
        elif isinstance(layer, Concat):
            parts = [shapes[b] for b in layer.bottoms]
            shapes[layer.name] = (sum(p[0] for p in parts), *parts[0][1:])
        else:  # LRN, Dropout: the bottom's shape
            shapes[layer.name] = shapes[layer.bottom]
    return weights, shapes


def caffemodel_bytes(name, layers, weights, version, training_layers=True):
    """The serialized NetParameter: the layers with their blobs (and, as the released 2014 files, which Caffe wrote
    from its training net, a data layer before them and the loss layers of `layers`' classifiers after them)."""
    messages = []
    if training_layers:
        messages.append(layer_message("data", "Data", (), ("data", "label"), [], version))
    for layer in layers:
        kind = {Conv: "Convolution", Pool: "Pooling", Lrn: "LRN", Fc: "InnerProduct", Concat: "Concat"}.get(
            type(layer), "Dropout"
        )
        bottoms = layer.bottoms if isinstance(layer, Concat) else (layer.bottom,)
        messages.append(layer_message(layer.name, kind, bottoms, (layer.name,), weights.get(layer.name, []), version))
        if isinstance(layer, (Conv, Fc)) and getattr(layer, "relu", True):
            relu = f"{layer.name}_relu"
            messages.append(layer_message(relu, "ReLU", (layer.name,), (layer.name,), [], version))
    if training_layers:
        for classifier in [layer.name for layer in layers if isinstance(layer, Fc) and not layer.relu]:
            loss = f"{classifier.split('/')[0]}/loss" if "/" in classifier else "loss"
            messages.append(layer_message(loss, "SoftmaxWithLoss", (classifier, "label"), (loss,), [], version))
    field = 2 if version == "V1" else 100
    return field_string(1, name) + b"".join(field_bytes(field, message) for message in messages)


def deploy_prototxt(name, layers, input_shape, batch):
    """The deploy net in V2 text format, as OpenCV reads it (an Input layer, ReLUs in place)."""
    dims = " ".join(f"dim: {d}" for d in (batch, *input_shape))
    lines = [
        f'name: "{name}"',
        f'layer {{ name: "data" type: "Input" top: "data" input_param {{ shape {{ {dims} }} }} }}',
    ]

    def layer(name, kind, bottoms, top, params=""):
        bottom = " ".join(f'bottom: "{b}"' for b in bottoms)
        lines.append(f'layer {{ name: "{name}" type: "{kind}" {bottom} top: "{top}" {params}}}')

    for item in layers:
        if isinstance(item, Conv):
            params = f"num_output: {item.out} kernel_size: {item.kernel} stride: {item.stride} pad: {item.pad}"
            params += f" group: {item.group}" if item.group > 1 else ""
            layer(item.name, "Convolution", (item.bottom,), item.top or item.name, f"convolution_param {{ {params} }} ")
            layer(f"{item.name}_relu", "ReLU", (item.top or item.name,), item.top or item.name)
        elif isinstance(item, Pool):
            params = f"pool: {item.method} kernel_size: {item.kernel} stride: {item.stride} pad: {item.pad}"
            layer(item.name, "Pooling", (item.bottom,), item.name, f"pooling_param {{ {params} }} ")
        elif isinstance(item, Lrn):
            layer(item.name, "LRN", (item.bottom,), item.name, "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 } ")
        elif isinstance(item, Fc):
            layer(
                item.name,
                "InnerProduct",
                (item.bottom,),
                item.name,
                f"inner_product_param {{ num_output: {item.out} }} ",
            )
            if item.relu:
                layer(f"{item.name}_relu", "ReLU", (item.name,), item.name)
        elif isinstance(item, Concat):
            layer(item.name, "Concat", item.bottoms, item.name)
        else:
            layer(item.name, "Dropout", (item.bottom,), item.name, f"dropout_param {{ dropout_ratio: {item.ratio} }} ")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------------------- the releases


def alexnet_layers():
    """models/bvlc_alexnet (2014): the paper's layers, groups of 2 in conv2, conv4, conv5; LRN before pooling."""
    return [
        Conv("conv1", "data", 96, 11, stride=4), Lrn("norm1", "conv1"), Pool("pool1", "norm1", "MAX", 3, 2),
        Conv("conv2", "pool1", 256, 5, pad=2, group=2), Lrn("norm2", "conv2"), Pool("pool2", "norm2", "MAX", 3, 2),
        Conv("conv3", "pool2", 384, 3, pad=1), Conv("conv4", "conv3", 384, 3, pad=1, group=2),
        Conv("conv5", "conv4", 256, 3, pad=1, group=2), Pool("pool5", "conv5", "MAX", 3, 2),
        Fc("fc6", "pool5", 4096), Dropout("drop6", "fc6", 0.5), Fc("fc7", "fc6", 4096), Dropout("drop7", "fc7", 0.5),
        Fc("fc8", "fc7", 1000, relu=False),
    ]  # fmt: skip


GOOGLENET_MODULES = {
    "3a": (64, 96, 128, 16, 32, 32), "3b": (128, 128, 192, 32, 96, 64), "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64), "4c": (128, 128, 256, 24, 64, 64), "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128), "5a": (256, 160, 320, 32, 128, 128), "5b": (384, 192, 384, 48, 128, 128),
}  # fmt: skip


def _aux_head(index, bottom):
    p = f"loss{index}"
    return [
        Pool(f"{p}/ave_pool", bottom, "AVE", 5, 3), Conv(f"{p}/conv", f"{p}/ave_pool", 128, 1),
        Fc(f"{p}/fc", f"{p}/conv", 1024), Dropout(f"{p}/drop_fc", f"{p}/fc", 0.7),
        Fc(f"{p}/classifier", f"{p}/fc", 1000, relu=False),
    ]  # fmt: skip


def googlenet_layers(aux=True):
    """models/bvlc_googlenet (2014): train_val's layers, the auxiliary heads on 4a and 4d included."""
    layers = [
        Conv("conv1/7x7_s2", "data", 64, 7, stride=2, pad=3), Pool("pool1/3x3_s2", "conv1/7x7_s2", "MAX", 3, 2),
        Lrn("pool1/norm1", "pool1/3x3_s2"), Conv("conv2/3x3_reduce", "pool1/norm1", 64, 1),
        Conv("conv2/3x3", "conv2/3x3_reduce", 192, 3, pad=1), Lrn("conv2/norm2", "conv2/3x3"),
        Pool("pool2/3x3_s2", "conv2/norm2", "MAX", 3, 2),
    ]  # fmt: skip
    bottom = "pool2/3x3_s2"
    for module, (n1, n3r, n3, n5r, n5, proj) in GOOGLENET_MODULES.items():
        if module in ("4a", "5a"):
            pool = f"pool{module[0]}/3x3_s2"
            layers.append(Pool(pool, bottom, "MAX", 3, 2))
            bottom = pool
        p = f"inception_{module}"
        layers += [
            Conv(f"{p}/1x1", bottom, n1, 1), Conv(f"{p}/3x3_reduce", bottom, n3r, 1),
            Conv(f"{p}/3x3", f"{p}/3x3_reduce", n3, 3, pad=1), Conv(f"{p}/5x5_reduce", bottom, n5r, 1),
            Conv(f"{p}/5x5", f"{p}/5x5_reduce", n5, 5, pad=2), Pool(f"{p}/pool", bottom, "MAX", 3, 1, pad=1),
            Conv(f"{p}/pool_proj", f"{p}/pool", proj, 1),
            Concat(f"{p}/output", (f"{p}/1x1", f"{p}/3x3", f"{p}/5x5", f"{p}/pool_proj")),
        ]  # fmt: skip
        bottom = f"{p}/output"
        if aux and module in ("4a", "4d"):
            layers += _aux_head(1 if module == "4a" else 2, bottom)
    return layers + [
        Pool("pool5/7x7_s1", bottom, "AVE", 7, 1), Dropout("pool5/drop_7x7_s1", "pool5/7x7_s1", 0.4),
        Fc("loss3/classifier", "pool5/7x7_s1", 1000, relu=False),
    ]  # fmt: skip


def nin_layers(variant):
    """mavenlin's gists (2014): cifar10_nin (3 mlpconv, CIFAR-10) and nin_imagenet (4 mlpconv, cccp names)."""
    if variant == "cifar":
        blocks = [(5, 1, 2, (192, 160, 96), "MAX", "drop3"), (5, 1, 2, (192, 192, 192), "AVE", "drop6"),
                  (3, 1, 1, (192, 192, 10), None, None)]  # fmt: skip
    else:
        blocks = [(11, 4, 0, (96, 96, 96), "MAX", None), (5, 1, 2, (256, 256, 256), "MAX", None),
                  (3, 1, 1, (384, 384, 384), "MAX", "drop"), (3, 1, 1, (1024, 1024, 1000), None, None)]  # fmt: skip
    layers, bottom = [], "data"
    for index, (kernel, stride, pad, widths, pool, drop) in enumerate(blocks, start=1):
        suffix = "-1024" if index == 4 else ""
        names = (f"conv{index}{suffix}", f"cccp{2 * index - 1}{suffix}", f"cccp{2 * index}{suffix}")
        layers.append(Conv(names[0], bottom, widths[0], kernel, stride=stride, pad=pad))
        layers += [Conv(names[1], names[0], widths[1], 1), Conv(names[2], names[1], widths[2], 1)]
        bottom = names[2]
        if pool:
            layers.append(Pool(f"pool{index if variant == 'cifar' or index > 1 else 0}", bottom, pool, 3, 2))
            bottom = layers[-1].name
        if drop:
            layers.append(Dropout(drop, bottom, 0.5))
    last = 8 if variant == "cifar" else 6
    return layers + [Pool(f"pool{len(blocks)}", bottom, "AVE", last, 1)]


@dataclass(frozen=True)
class Release:
    imitates: str  # the released file's name
    model: str
    variant: str
    dataset: str
    input_shape: Tuple[int, int, int]  # Caffe's (C, H, W)
    outputs: Tuple[str, ...]  # the logits OpenCV is asked for (main first, then auxiliary heads)
    scale: float  # input magnitude (Caffe's mean-subtracted pixels; whitened CIFAR-10 is near unit scale)


RELEASES = {
    "bvlc_alexnet": Release("bvlc_alexnet.caffemodel", "AlexNet", "bvlc", "imagenet", (3, 227, 227), ("fc8",), 120),
    "bvlc_googlenet": Release(
        "bvlc_googlenet.caffemodel", "GoogLeNet", "bvlc", "imagenet", (3, 224, 224),
        ("loss3/classifier", "loss1/classifier", "loss2/classifier"), 120,
    ),
    "nin_imagenet": Release("nin_imagenet.caffemodel", "NiN", "imagenet", "imagenet", (3, 224, 224), ("pool4",), 120),
    "cifar10_nin": Release("cifar10_nin.caffemodel", "NiN", "cifar", "cifar10", (3, 32, 32), ("pool3",), 2),
}  # fmt: skip


def release_layers(key):
    if key == "bvlc_alexnet":
        return alexnet_layers()
    if key == "bvlc_googlenet":
        return googlenet_layers()
    return nin_layers("cifar" if key == "cifar10_nin" else "imagenet")


def write_release(key, directory, version="V1", batch=2, seed=0):
    """Writes `<directory>/<released name>` and its deploy prototxt; returns (caffemodel path, prototxt path,
    {layer: [weights, bias]})."""
    release = RELEASES[key]
    layers = release_layers(key)
    weights, _ = _weights(np.random.default_rng([seed, *key.encode()]), layers, release.input_shape)
    model_path = directory / release.imitates
    model_path.write_bytes(caffemodel_bytes(key, layers, weights, version))
    proto_path = directory / f"{key}_deploy.prototxt"
    proto_path.write_text(deploy_prototxt(key, layers, release.input_shape, batch))
    return model_path, proto_path, weights


def images(key, batch=2, seed=1):
    """NHWC float32 inputs at the release's size and magnitude."""
    release = RELEASES[key]
    c, h, w = release.input_shape
    return np.random.default_rng(seed).uniform(-release.scale, release.scale, (batch, h, w, c)).astype("float32")


def opencv_outputs(proto_path, model_path, nhwc, names):
    """The outputs `names` of OpenCV's Caffe importer running the files on `nhwc` (as NCHW), each (batch, -1)."""
    import cv2

    net = cv2.dnn.readNetFromCaffe(str(proto_path), str(model_path))
    net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
    if hasattr(net, "enableWinograd"):
        net.enableWinograd(False)  # Winograd 3x3 convolutions round differently
    net.setInput(np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2)))
    outputs = net.forward(list(names))
    return [np.asarray(output).reshape(nhwc.shape[0], -1) for output in outputs]
