"""`inference.predict_files` / `keras-famous predict`: a user's folder (nested, mixed formats and sizes, a stray
file, a hidden file, a corrupt JPEG) classified or embedded into CSV, JSON Lines and Parquet; an interrupted
run resumed; the same rows from Ray actors on a local instance."""

import csv
import json
import os

import keras
import numpy as np
import pytest

from keras_famous import cli, image_files
from keras_famous.inference import predict_files, sources
from conftest import assert_close_to_magnitude

SIDE = 40


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """photos/ with 7 readable images at three depths (JPEG, PNG, grayscale, RGBA, other sizes), a corrupt
    JPEG, a text file and a macOS resource fork."""
    import tensorflow as tf

    root = tmp_path_factory.mktemp("predict") / "photos"
    rng = np.random.default_rng(0)
    layout = [("a.jpg", 3), ("b.png", 1), ("trip/c.jpg", 3), ("trip/d.png", 4), ("trip/day2/e.JPG", 3),
              ("trip/day2/f.png", 3), ("g.jpeg", 3)]  # fmt: skip
    for index, (name, channels) in enumerate(layout):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (30 + 7 * index, 50 - 3 * index, channels), dtype=np.uint8)
        encoded = tf.io.encode_png(pixels) if name.endswith(".png") else tf.io.encode_jpeg(pixels[..., :3])
        path.write_bytes(encoded.numpy())
    whole = (root / "a.jpg").read_bytes()
    (root / "trip" / "broken.jpg").write_bytes(whole[: len(whole) // 3])
    (root / "notes.txt").write_text("not an image")
    (root / "trip" / "._c.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    return root


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(7)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Rescaling(1 / 255)(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(5, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="tiny")


def _expected(model, path):
    pixels = image_files.decode(str(path), (SIDE, SIDE), 3).numpy()
    return model(pixels[None], training=False).numpy()[0]


def _read_jsonl(path):
    with open(path) as handle:
        return {row["path"]: row for row in map(json.loads, handle)}


def test_a_folder_is_classified_row_by_row_with_unreadable_files_named(folder, model, tmp_path):
    output = tmp_path / "out" / "predictions.csv"
    names = ("ant", "bee", "cat", "dog", "eel")
    report = predict_files(model, [folder], output, top=3, class_names=names, batch_size=3, engine="tensorflow")
    assert report["written"] == 8 and report["errors"] == 1 and report["skipped"] == 0
    with open(output, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["path", "error", "label_1", "score_1", "label_2", "score_2", "label_3", "score_3"]
    by_name = {os.path.relpath(row["path"], folder): row for row in rows}
    assert "notes.txt" not in by_name and "trip/._c.jpg" not in by_name  # not images: never listed
    assert by_name["trip/broken.jpg"]["error"] and not by_name["trip/broken.jpg"]["label_1"]
    for name, row in by_name.items():
        if name == "trip/broken.jpg":
            continue
        expected = _expected(model, folder / name)
        best = np.argsort(-expected, kind="stable")[:3]
        assert row["error"] == "" and [row[f"label_{k}"] for k in (1, 2, 3)] == [names[i] for i in best]
        np.testing.assert_allclose([float(row[f"score_{k}"]) for k in (1, 2, 3)], expected[best], atol=1e-5)


def test_an_interrupted_run_resumes_where_it_stopped(folder, model, tmp_path):
    output = tmp_path / "predictions.jsonl"
    predict_files(model, [folder / "trip"], output, top=2, engine="tensorflow", verbose=False)  # the first part
    with open(output, "a") as handle:
        handle.write('{"path": "/cut/short", "err')  # a line a killed run left half written
    report = predict_files(model, [folder], output, top=2, engine="tensorflow", verbose=False)
    assert report["skipped"] == 5 and report["written"] == 3
    rows = _read_jsonl(output)
    assert len(rows) == 8 and "/cut/short" not in rows
    again = predict_files(model, [folder], output, top=2, engine="tensorflow", verbose=False)
    assert again["written"] == 0 and len(_read_jsonl(output)) == 8
    fresh = predict_files(model, [folder], output, top=2, engine="tensorflow", overwrite=True, verbose=False)
    assert fresh["written"] == 8 and len(_read_jsonl(output)) == 8


def test_parquet_keeps_its_types_and_resumes(folder, model, tmp_path):
    pyarrow_parquet = pytest.importorskip("pyarrow.parquet")
    output = tmp_path / "predictions.parquet"
    # batch 1 and the broken file first: the first row group holds an error row only, and the schema still holds
    report = predict_files(model, [folder / "trip" / "broken.jpg", folder / "a.jpg"], output, top=2, batch_size=1,
                           engine="tensorflow", verbose=False)  # fmt: skip
    assert report["written"] == 2
    report = predict_files(model, [folder], output, top=2, engine="tensorflow", verbose=False)
    assert report["skipped"] == 2 and report["written"] == 6
    table = pyarrow_parquet.read_table(output)
    assert table.num_rows == 8 and str(table.schema.field("score_1").type) == "float"
    rows = {row["path"]: row for row in table.to_pylist()}
    expected = _expected(model, folder / "g.jpeg")
    assert rows[str(folder / "g.jpeg")]["score_1"] == pytest.approx(float(expected.max()), abs=1e-5)
    assert not [name for name in os.listdir(tmp_path) if name.startswith(".")]  # no temporary file left


def test_features_are_the_input_of_the_classifier(folder, model, tmp_path):
    output = tmp_path / "features.jsonl"
    predict_files(model, [str(folder / "**" / "*.png")], output, features=True, engine="tensorflow", verbose=False)
    rows = _read_jsonl(output)
    assert {os.path.basename(path) for path in rows} == {"b.png", "d.png", "f.png"}
    extractor = sources.feature_model(model)
    for path, row in rows.items():
        pixels = image_files.decode(path, (SIDE, SIDE), 3).numpy()[None]
        assert_close_to_magnitude(np.array(row["features"]), extractor(pixels).numpy()[0], 1e-5)
        assert len(row["features"]) == 8  # the pooled convolution, before the Dense classifier


def test_a_central_crop_keeps_the_aspect_ratio(tmp_path):
    import tensorflow as tf

    pixels = np.random.default_rng(1).integers(0, 256, (40, 64, 3), dtype=np.uint8)
    path = tmp_path / "wide.png"
    path.write_bytes(tf.io.encode_png(pixels).numpy())
    cropped = image_files.decode_center(str(path), (16, 16), 3, fraction=0.875).numpy()
    side = int(40 * 0.875)  # 35: the central square of 87.5% of the shorter side
    top, left = (40 - side) // 2, (64 - side) // 2
    manual = tf.image.resize(pixels[top : top + side, left : left + side].astype("float32"), (16, 16)).numpy()
    np.testing.assert_allclose(cropped, manual, atol=1e-3)


def test_the_command_line_names_the_flag_at_fault(folder, tmp_path, capsys):
    cases = [
        (["LeNet5", str(folder), "--weights", "digits", "--output", str(tmp_path / "o.txt")], "--output must end in"),
        (["LeNet5", str(tmp_path / "none*.jpg"), "--weights", "digits", "--output", str(tmp_path / "o.csv")],
         "INPUT: the pattern"),
        (["LeNet5", str(folder), "--output", str(tmp_path / "o.csv")], "No pretrained --weights imagenet for LeNet5"),
        (["LeNet5", str(folder), "--weights", "digits", "--output", str(tmp_path / "o.csv"), "--batch", "0"],
         "--batch must be"),
    ]  # fmt: skip
    for argv, message in cases:
        assert cli.main(["predict", *argv]) == 2
        assert message in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "o.csv")


@pytest.mark.slow
def test_ray_actors_write_the_same_rows(folder, model, tmp_path):
    ray = pytest.importorskip("ray")
    local = tmp_path / "local.jsonl"
    predict_files(model, [folder], local, top=3, engine="tensorflow", verbose=False)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        on_ray = tmp_path / "ray.jsonl"
        report = predict_files(model, [folder], on_ray, top=3, batch_size=3, engine="tensorflow", threads=1,
                               ray=True, verbose=False)  # fmt: skip
        assert report["written"] == 8 and report["errors"] == 1
    finally:
        ray.shutdown()
    expected, actual = _read_jsonl(local), _read_jsonl(on_ray)
    assert expected.keys() == actual.keys()
    for path, row in expected.items():
        assert [actual[path].get(f"label_{k}") for k in (1, 2, 3)] == [row.get(f"label_{k}") for k in (1, 2, 3)]
        for k in (1, 2, 3):
            assert actual[path].get(f"score_{k}") == pytest.approx(row.get(f"score_{k}"), abs=1e-5)


def test_int8_is_calibrated_and_checked_on_the_runs_own_images(tmp_path, capsys):
    """`--precision int8` over a folder of 80 digit PNGs: calibrated on the run's images, a quarter held out to
    check agreement; its labels are the float32 run's on (nearly) every image."""
    import tensorflow as tf

    from keras_famous import datasets

    (_, _), (test, _) = datasets.digits_32x32(pixels=True)
    for index, image in enumerate(test[:80]):
        (tmp_path / f"digit{index:03d}.png").write_bytes(tf.io.encode_png(image.astype("uint8")).numpy())
    runs = {}
    for precision in ("float32", "int8"):
        output = tmp_path / f"{precision}.jsonl"
        argv = ["predict", "LeNet5", str(tmp_path), "--weights", "digits", "--output", str(output), "--top", "1"]
        assert cli.main([*argv, "--precision", precision, "--batch", "8"]) == 0
        printed = capsys.readouterr().out
        assert ("-int8; top-1 agreement with float32: " in printed) == (precision == "int8")  # int8 engines ran
        runs[precision] = {path: row["label_1"] for path, row in _read_jsonl(output).items()}
    assert len(runs["int8"]) == 80 and runs["int8"].keys() == runs["float32"].keys()
    assert np.mean([runs["int8"][path] == label for path, label in runs["float32"].items()]) >= 0.97
