"""Reduced precision in `inference.predictor`, guarded: int8 (LiteRT, ONNX Runtime QDQ) and bfloat16 (OpenVINO)
engines are used only where their top-1 agrees with the float32 model's on images they were not calibrated on;
degenerate calibration data and tiers below `min_agreement` are refused, naming the figure."""

import numpy as np
import pytest

import keras_famous
from keras_famous import datasets, machine
from keras_famous.inference import predictor


@pytest.fixture(scope="module")
def digits():
    (train, _), (test, test_labels) = datasets.digits_32x32()
    return train[:200], test, test_labels


@pytest.fixture
def lenet():
    return keras_famous.LeNet5(weights="digits")


def test_int8_agrees_with_float32_on_the_digits_test_split(lenet, digits):
    calibration, test, _ = digits
    predict = predictor(lenet, precision="int8", calibration=calibration, validation=test, batch_size=8, verbose=False)
    assert predict.precision == "int8" and set(predict.engines.values()) <= {"litert-int8", "onnxruntime-int8"}
    assert all(fraction >= 0.99 for fraction in predict.agreement.values())
    float32 = np.argmax(lenet(test, training=False), -1)
    assert np.mean(np.argmax(predict(test), -1) == float32) >= 0.99  # the target, on the 450 test digits


def test_degenerate_calibration_is_refused(lenet, digits):
    with pytest.raises(ValueError, match="blank"):
        predictor(lenet, precision="int8", calibration=np.zeros((40, 32, 32, 1), "float32"), verbose=False)
    one = np.repeat(digits[0][:1], 40, axis=0)
    one = one + np.random.default_rng(0).normal(0, 1e-6, one.shape).astype("float32")  # one digit, 40 times
    with pytest.raises(ValueError, match="barely vary"):
        predictor(lenet, precision="int8", calibration=one, verbose=False)
    with pytest.raises(ValueError, match="at least 20"):
        predictor(lenet, precision="int8", calibration=digits[0][:12], verbose=False)
    # min_agreement=0 asks for no guard: the agreement is reported, nothing refused (speed on random weights)
    unguarded = predictor(
        lenet, precision="int8", calibration=one, min_agreement=0, engine="litert-int8", verbose=False
    )
    assert unguarded.precision == "int8" and 0 <= unguarded.agreement["litert-int8"] <= 1


def test_a_tier_below_min_agreement_is_refused_naming_the_figure(lenet, digits):
    calibration, test, _ = digits
    dim = calibration * 0.02  # ranges from nearly black images: the real digits saturate them
    with pytest.warns(UserWarning, match="agrees with the float32 model's top-1 on"):
        with pytest.raises(ValueError, match=r"precision='int8'.*min_agreement=0.99 of the 450.*litert-int8 \d+\.\d%"):
            predictor(lenet, precision="int8", calibration=dim, validation=test, verbose=False)
    # precision="auto" races the tiers that pass: no int8 engine (bfloat16 takes no calibration, so it may pass)
    with pytest.warns(UserWarning, match="int8' agrees with the float32 model's top-1 on .* not used"):
        auto = predictor(lenet, precision="auto", calibration=dim, validation=test, batch_size=4, verbose=False)
    assert not any(name.endswith("int8") for name in [*auto.engines.values(), *auto.agreement])
    assert all(fraction >= 0.99 for fraction in auto.agreement.values())


def test_bfloat16_where_the_cpu_has_it(lenet, digits):
    calibration, test, _ = digits
    if machine.cpu_flags() and machine.cpu_flags() & set(machine.BFLOAT16):
        predict = predictor(lenet, precision="bfloat16", calibration=calibration, validation=test, verbose=False)
        assert predict.precision == "bfloat16" and predict.agreement["openvino-bf16"] >= 0.99
        compiled = predict._runners["openvino-bf16"]._compiled
        import openvino

        assert compiled.get_property("INFERENCE_PRECISION_HINT") == openvino.Type.bf16
    else:
        with pytest.raises(ValueError, match="AVX512_BF16 or AMX"):
            predictor(lenet, precision="bfloat16", calibration=calibration, verbose=False)


def test_precision_arguments_name_the_argument(lenet, digits):
    for kwargs, message in (
        (dict(precision="fp16"), "`precision` must be one of"),
        (dict(precision="int8", min_agreement=1.5), r"`min_agreement` must be a fraction in \[0, 1\]"),
        (dict(precision="int8"), "needs `calibration` images"),
        (dict(precision="int8", calibration=digits[0][:, :16]), r"`calibration` must be images of shape \(N, 32, 32, 1\)"),
        (dict(engine="litert-int8", calibration=digits[0]), "computes in int8; received precision='float32'"),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=message):
            predictor(lenet, verbose=False, **kwargs)
