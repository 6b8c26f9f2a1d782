"""Layer-by-layer output shapes against the papers' tables."""

import keras_famous


def _shapes(model, names):
    return {name: tuple(model.get_layer(name).output.shape[1:]) for name in names}


def test_lenet5_table():
    """LeCun et al. 1998, Sec. II-B; per-layer trainable parameters as in the paper's text."""
    model = keras_famous.LeNet5()
    assert _shapes(model, ["c1", "s2", "c3", "s4", "c5", "f6", "predictions"]) == {
        "c1": (28, 28, 6),
        "s2": (14, 14, 6),
        "c3": (10, 10, 16),
        "s4": (5, 5, 16),
        "c5": (1, 1, 120),
        "f6": (84,),
        "predictions": (10,),
    }
    params = {layer.name: layer.count_params() for layer in model.layers if layer.weights}
    assert params == {"c1": 156, "s2": 12, "c3": 1516, "s4": 32, "c5": 48120, "f6": 10164, "predictions": 840}
    trainable = sum(int(w.numpy().size) for w in model.trainable_weights)
    assert trainable == 60_000


def test_alexnet_table():
    """Krizhevsky et al. 2012, Fig. 2 (with the 227 input the arithmetic needs)."""
    model = keras_famous.AlexNet()
    assert _shapes(model, ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5", "fc6", "fc7"]) == {
        "conv1": (55, 55, 96),
        "pool1": (27, 27, 96),
        "conv2": (27, 27, 256),
        "pool2": (13, 13, 256),
        "conv3": (13, 13, 384),
        "conv4": (13, 13, 384),
        "conv5": (13, 13, 256),
        "pool5": (6, 6, 256),
        "fc6": (4096,),
        "fc7": (4096,),
    }
    assert model.get_layer("conv2").groups == 2 and model.get_layer("conv3").groups == 1
    assert model.get_layer("conv4").groups == 2 and model.get_layer("conv5").groups == 2


def test_zfnet_table():
    """Zeiler & Fergus 2013, Fig. 3: 110 -> 55 -> 26 -> 13 -> 13 -> 13 -> 6."""
    model = keras_famous.ZFNet()
    assert _shapes(model, ["conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5", "pool5"]) == {
        "conv1": (110, 110, 96),
        "pool1": (55, 55, 96),
        "conv2": (26, 26, 256),
        "pool2": (13, 13, 256),
        "conv3": (13, 13, 384),
        "conv4": (13, 13, 384),
        "conv5": (13, 13, 256),
        "pool5": (6, 6, 256),
    }


def test_vgg16_table():
    """Simonyan & Zisserman 2014, Table 1 column D."""
    model = keras_famous.VGG16()
    convs = [layer for layer in model.layers if "conv" in layer.name]
    assert [layer.filters for layer in convs] == [64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    assert all(layer.kernel_size == (3, 3) for layer in convs)
    assert _shapes(model, [f"block{i}_pool" for i in range(1, 6)]) == {
        "block1_pool": (112, 112, 64),
        "block2_pool": (56, 56, 128),
        "block3_pool": (28, 28, 256),
        "block4_pool": (14, 14, 512),
        "block5_pool": (7, 7, 512),
    }
    assert model.get_layer("fc1").count_params() == 102_764_544


def test_resnet50_table():
    """He et al. 2015, Table 1: conv1 112x112, conv2_x 56x56 ... conv5_x 7x7, bottleneck widths."""
    for variant in ("keras", "torchvision"):
        model = keras_famous.ResNet50(variant=variant)
        assert _shapes(
            model,
            [
                "conv1_relu",
                "pool1_pool",
                "conv2_block3_out",
                "conv3_block4_out",
                "conv4_block6_out",
                "conv5_block3_out",
            ],
        ) == {
            "conv1_relu": (112, 112, 64),
            "pool1_pool": (56, 56, 64),
            "conv2_block3_out": (56, 56, 256),
            "conv3_block4_out": (28, 28, 512),
            "conv4_block6_out": (14, 14, 1024),
            "conv5_block3_out": (7, 7, 2048),
        }
        assert [model.get_layer(f"conv{s}_block1_2_conv").filters for s in (2, 3, 4, 5)] == [64, 128, 256, 512]


def test_resnext50_uses_real_grouped_convolutions():
    """Xie et al. 2017, Table 1: 32 groups, bottleneck widths 128-256-512-1024, no depthwise emulation."""
    model = keras_famous.ResNeXt50()
    assert not any(type(layer).__name__ == "DepthwiseConv2D" for layer in model.layers)
    grouped = [model.get_layer(f"conv{s}_block1_2_conv") for s in (2, 3, 4, 5)]
    assert [(layer.filters, layer.groups) for layer in grouped] == [(128, 32), (256, 32), (512, 32), (1024, 32)]


def test_densenet_bc_cifar_table():
    """Huang et al. 2016, Table 2: DenseNet-BC L=100 k=12 0.8M (769,162 for CIFAR-10), L=250 k=24 15.3M,
    L=190 k=40 25.6M; (L - 4) / 6 bottleneck layers per block."""

    def trainable(model):
        return sum(int(w.numpy().size) for w in model.trainable_weights)

    model = keras_famous.DenseNetBC()
    assert trainable(model) == 769_162
    assert model.get_layer("conv1_conv").filters == 24  # 2k
    assert [model.get_layer(f"pool{i}_pool").output.shape[1:] for i in (2, 3)] == [
        (16, 16, 108),
        (8, 8, 150),
    ]  # (24 + 16k) / 2, (108 + 16k) / 2
    assert round(trainable(keras_famous.DenseNetBC(variant="L250_k24")) / 1e6, 1) == 15.3
    assert round(trainable(keras_famous.DenseNetBC(variant="L190_k40")) / 1e6, 1) == 25.6
    generic = keras_famous.DenseNet(blocks=(16, 16, 16), growth_rate=12)
    assert trainable(generic) == 769_162


def test_densenet121_table():
    """Table 1: 56 -> 28 -> 14 -> 7 with 6/12/24/16 layers of growth 32, compression 0.5."""
    model = keras_famous.DenseNet121()
    assert _shapes(model, ["pool1", "pool2_pool", "pool3_pool", "pool4_pool", "relu"]) == {
        "pool1": (56, 56, 64),
        "pool2_pool": (28, 28, 128),
        "pool3_pool": (14, 14, 256),
        "pool4_pool": (7, 7, 512),
        "relu": (7, 7, 1024),
    }


def test_squeezenet_table():
    """Iandola et al. 2016, Table 1 (SqueezeNet 1.0): 111 -> 55 -> 27 -> 13 grids and fire widths."""
    model = keras_famous.SqueezeNet1_0()
    assert _shapes(
        model, ["conv1", "maxpool1", "fire4_concat", "maxpool4", "fire8_concat", "maxpool8", "fire9_concat"]
    ) == {
        "conv1": (109, 109, 96),
        "maxpool1": (54, 54, 96),
        "fire4_concat": (54, 54, 256),
        "maxpool4": (27, 27, 256),
        "fire8_concat": (27, 27, 512),
        "maxpool8": (13, 13, 512),
        "fire9_concat": (13, 13, 512),
    }
    assert model.get_layer("fire2_squeeze1x1").filters == 16 and model.get_layer("fire9_expand3x3").filters == 256


def test_googlenet_table():
    """Szegedy et al. 2014, Table 1: inception output depths and grids; 6,998,552 parameters."""
    from keras_famous.models.googlenet import INCEPTION_MODULES

    for variant in ("original", "torchvision"):
        model = keras_famous.GoogLeNet(variant=variant)
        depths = [model.get_layer(f"inception_{m}_output").output.shape[-1] for m in INCEPTION_MODULES]
        assert depths == [256, 480, 512, 512, 512, 528, 832, 832, 1024]
        grids = [model.get_layer(f"inception_{m}_output").output.shape[1] for m in INCEPTION_MODULES]
        assert grids == [28, 28, 14, 14, 14, 14, 14, 7, 7]
        assert model.get_layer("conv1").output.shape[1:3] == (112, 112)
    assert keras_famous.GoogLeNet().count_params() == 6_998_552
    assert keras_famous.GoogLeNet(aux_logits=True).count_params() == 13_378_280


def test_nin_mlpconv_table():
    """Lin et al. 2013, Sec. 3-4: three mlpconv layers for CIFAR-10, global average pooling, no FC."""
    model = keras_famous.NiN()
    assert not any(type(layer).__name__ == "Dense" for layer in model.layers)
    assert [model.get_layer(f"mlpconv{i}_conv").kernel_size for i in (1, 2, 3)] == [(5, 5), (5, 5), (3, 3)]
    assert model.get_layer("mlpconv3_cccp2").filters == 10
    assert _shapes(model, ["mlpconv1_pool", "mlpconv2_pool", "mlpconv3_cccp2"]) == {
        "mlpconv1_pool": (16, 16, 96),
        "mlpconv2_pool": (8, 8, 192),
        "mlpconv3_cccp2": (8, 8, 10),
    }
    per_block = [
        sum(model.get_layer(n).count_params() for n in (f"mlpconv{i}_conv", f"mlpconv{i}_cccp1", f"mlpconv{i}_cccp2"))
        for i in (1, 2, 3)
    ]
    assert per_block == [60_928, 535_104, 370_954] and sum(per_block) == 966_986
    imagenet = keras_famous.NiN(variant="imagenet", classes=1000)
    assert imagenet.count_params() == 7_595_176 and imagenet.output.shape == (None, 1000)


def test_inception_v3_grid_sizes():
    """Szegedy et al. 2015, Table 1: 35x35x288 -> 17x17x768 -> 8x8x2048, in both layouts."""
    expected = {
        "mixed0": (35, 35, 256),
        "mixed2": (35, 35, 288),
        "mixed3": (17, 17, 768),
        "mixed7": (17, 17, 768),
        "mixed8": (8, 8, 1280),
        "mixed10": (8, 8, 2048),
    }
    for variant in ("keras", "torchvision"):
        assert _shapes(keras_famous.InceptionV3(variant=variant), list(expected)) == expected


def test_inception_v4_grid_sizes():
    """Szegedy et al. 2016, Fig. 3 and 9: stem 73x73x160, 71x71x192, 35x35x384; 17x17x1024; 8x8x1536."""
    expected = {
        "mixed_3a": (73, 73, 160),
        "mixed_4a": (71, 71, 192),
        "mixed_5a": (35, 35, 384),
        "mixed_5e": (35, 35, 384),
        "mixed_6a": (17, 17, 1024),
        "mixed_6h": (17, 17, 1024),
        "mixed_7a": (8, 8, 1536),
        "mixed_7d": (8, 8, 1536),
    }
    model = keras_famous.InceptionV4()
    assert _shapes(model, list(expected)) == expected
    modules = [layer.name for layer in model.layers if layer.name.startswith("mixed_") and layer.name.count("_") == 1]
    assert len([m for m in modules if m[-2] == "5"]) == 5 and len([m for m in modules if m[-2] == "6"]) == 8
    assert len([m for m in modules if m[-2] == "7"]) == 4  # reductions 6a, 7a + 4 A, 7 B, 3 C modules
