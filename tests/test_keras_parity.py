"""Every model keras.applications also builds: same layer names, weight shapes and order, same graph
depth, and keras.applications' random weights copied into ours give the same outputs."""

import keras
import numpy as np
import pytest
import tf_keras

from keras_famous import analysis, registry
from conftest import infer, advance_name_counters, assert_close_to_magnitude, random_images

KERAS_MODELS = [
    (spec.name, variant, ref.model)
    for spec in registry.SPECS.values()
    for variant, variant_spec in spec.variants.items()
    for ref in variant_spec.references
    if ref.library == "keras.applications"
]
SLOW = {
    "ResNet101",
    "ResNet152",
    "ResNet101V2",
    "ResNet152V2",
    "VGG19",
    "InceptionResNetV2",
    "DenseNet169",
    "DenseNet201",
}


def _params(cases):
    return [pytest.param(*case, marks=[pytest.mark.slow] if case[0] in SLOW else []) for case in cases]


def test_every_keras_applications_model_is_covered():
    assert {ref for _, _, ref in KERAS_MODELS} == {
        "VGG16",
        "VGG19",
        "ResNet50",
        "ResNet101",
        "ResNet152",
        "ResNet50V2",
        "ResNet101V2",
        "ResNet152V2",
        "InceptionV3",
        "Xception",
        "InceptionResNetV2",
        "DenseNet121",
        "DenseNet169",
        "DenseNet201",
    }


def _weighted_layers(model):
    return [(layer.name, [tuple(w.shape) for w in layer.weights]) for layer in model.layers if layer.weights]


@pytest.mark.parametrize("name,variant,keras_name", _params(KERAS_MODELS))
def test_same_graph_weights_and_outputs(name, variant, keras_name, tmp_path):
    """keras.applications' file format: tf_keras writes its application's random weights as a legacy .h5,
    which loads into ours by layer name through `weights=`."""
    tf_keras.backend.clear_session()
    reference = getattr(tf_keras.applications, keras_name)(weights=None)
    # Non-trivial BN statistics, so that a swapped mean/variance would show.
    rng = np.random.default_rng(1)
    reference.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name else w.numpy()
            for w in reference.weights
        ]
    )
    images = random_images(reference.input_shape[1:])
    expected = infer(reference, images)
    path = str(tmp_path / f"{keras_name}.h5")
    reference.save_weights(path)
    # Keras 2 wrote DenseNet's "conv1/conv" where Keras 3 (which forbids "/") has "conv1_conv".
    ref_layers = [
        (layer.name.replace("/", "_"), [tuple(w.shape) for w in layer.weights])
        for layer in reference.layers
        if layer.weights
    ]
    del reference
    tf_keras.backend.clear_session()

    advance_name_counters(keras)  # our names are keras.applications' fresh-session names in any session
    ours = registry.build_variant(name, variant, weights=path)
    assert _weighted_layers(ours) == ref_layers  # same names, same weights in the same order
    assert_close_to_magnitude(infer(ours, images), expected, 1e-5)


def test_graph_statistics_equal_keras_applications():
    """Topological depth, weighted depth and counts of our graph equal keras.applications' (Keras 3)."""
    for name, variant, keras_name in KERAS_MODELS:
        if name in SLOW:
            continue
        keras.backend.clear_session()
        reference = getattr(keras.applications, keras_name)(weights=None)
        ref_stats = (
            analysis.topological_depth(reference),
            analysis.weighted_depth(reference),
            analysis.parameter_counts(reference),
        )
        info = registry.model_info(name, variant)
        assert (info.depth, info.weighted_depth, (info.params, info.trainable_params, info.non_trainable_params)) == (
            ref_stats[0],
            ref_stats[1],
            ref_stats[2],
        ), name


def test_keras_published_depths():
    """The seed's Keras table gives VGG16 depth 23; keras.io gives 16 weighted layers for VGG16 and 107 for ResNet50."""
    vgg16 = keras.applications.VGG16(weights=None)
    assert analysis.topological_depth(vgg16) == 23 == registry.model_info("VGG16").depth
    assert analysis.weighted_depth(vgg16) == 16 == registry.model_info("VGG16").weighted_depth
    keras.backend.clear_session()
    resnet50 = keras.applications.ResNet50(weights=None)
    assert analysis.weighted_depth(resnet50) == 107 == registry.model_info("ResNet50").weighted_depth
    assert analysis.topological_depth(resnet50) == registry.model_info("ResNet50").depth


def test_headless_models_match_keras_pooling():
    for pooling in ("avg", "max", None):
        keras.backend.clear_session()
        reference = keras.applications.ResNet50(
            weights=None, include_top=False, pooling=pooling, input_shape=(64, 64, 3)
        )
        ours = registry.get_model("resnet50", include_top=False, pooling=pooling, input_shape=(64, 64, 3))
        ours.set_weights(reference.get_weights())
        images = random_images((64, 64, 3))
        assert_close_to_magnitude(infer(ours, images), infer(reference, images), 1e-5)


@pytest.mark.parametrize("name", [pytest.param("ResNeXt50"), pytest.param("ResNeXt101", marks=pytest.mark.slow)])
def test_keras_applications_resnext_h5(name, tmp_path):
    """The keras-applications 1.0.8 ResNeXt (the source of the published ResNeXt .h5 files) draws its grouped
    convolutions as DepthwiseConv2D + reshape-sum; its legacy .h5 loads into our Conv2D(groups=32) by name."""
    from keras_applications import resnext

    tf_keras.backend.clear_session()
    modules = dict(backend=tf_keras.backend, layers=tf_keras.layers, models=tf_keras.models, utils=tf_keras.utils)
    reference = getattr(resnext, name)(weights=None, **modules)
    rng = np.random.default_rng(2)
    reference.set_weights(
        [
            rng.uniform(0.5, 1.5, w.shape).astype("float32") if "variance" in w.name else w.numpy()
            for w in reference.weights
        ]
    )
    images = random_images((224, 224, 3))
    expected = infer(reference, images)
    path = str(tmp_path / f"{name}.h5")
    reference.save_weights(path)
    del reference
    tf_keras.backend.clear_session()
    ours = registry.build_variant(name, "keras", weights=path)
    assert_close_to_magnitude(infer(ours, images), expected, 1e-5)
