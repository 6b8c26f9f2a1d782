"""`keras-famous train` as users fine-tune: their folder of photos (three classes, a stray file, a truncated
JPEG, a macOS resource fork), pretrained weights of another class count, the two-phase recipe, a crash and the
re-run with a changed flag, a corrupt checkpoint; folder layouts and what each process decodes."""

import csv
import json
import os
import re
import warnings
import zipfile

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import cli, datasets, model_files, registry, training
from keras_famous.training import data as training_data
from keras_famous.training import recipe

# One network per family, the weights file saved from its 1000-class build (LeNet5: the shipped digits), and
# the side its photos are read at (the family's smallest where it trains in seconds).
FAMILIES = [
    ("LeNet5", None, 32), ("AlexNet", "torchvision", 64), ("NiN", "imagenet", 64), ("VGG11", None, 32),
    ("GoogLeNet", "torchvision", 64), ("ResNet18", "torchvision", 32), ("InceptionV3", None, 75),
    ("InceptionV4", None, 75), ("InceptionResNetV2", None, 75), ("Xception", None, 71), ("DenseNet121", None, 32),
    ("SqueezeNet1_1", None, 64),
]  # fmt: skip


def _write_digits(root, split, per_class, classes=3):
    (x_train, y_train), (x_test, y_test) = datasets.digits_32x32(pixels=True)
    x, y = (x_train, y_train) if split == "train" else (x_test, y_test)
    for label in range(classes):
        folder = root / split / f"digit{label}" if split else root / f"digit{label}"
        folder.mkdir(parents=True, exist_ok=True)
        for index in np.flatnonzero(y == label)[:per_class]:
            keras.utils.save_img(folder / f"{index}.png", np.repeat(x[index], 3, -1), scale=False)
    return root


def _add_bad_files(folder):
    """What users' folders hold besides photos: notes, a truncated JPEG, macOS's ._ resource fork."""
    (folder / "notes.txt").write_text("taken on holiday")
    image = np.random.default_rng(0).uniform(0, 255, (40, 40, 3)).astype("uint8")
    keras.utils.save_img(folder / "whole.jpg", image)
    data = (folder / "whole.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "._whole.jpg").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    (folder / "fake.png").write_bytes(b"not a png at all")


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """photos/train/digit0..2 (8 each; digit1 also a JPEG and bad files) and photos/test/digit0..2 (3 each)."""
    root = tmp_path_factory.mktemp("photos") / "photos"
    _write_digits(root, "train", 8)
    _write_digits(root, "test", 3)
    _add_bad_files(root / "train" / "digit1")
    return root


def _backbone_arrays(model):
    return {layer.name: layer.get_weights() for layer in model.layers if layer.weights}


@pytest.mark.slow
@pytest.mark.parametrize("name, variant, side", FAMILIES, ids=[family[0] for family in FAMILIES])
def test_every_family_fine_tunes_from_a_1000_class_file_onto_three_classes(
    name, variant, side, photos, tmp_path, monkeypatch
):
    spec = registry.get_spec(name)
    channels, side = spec.input_shape[2], max(side, spec.contract.min_size)
    if name == "LeNet5":
        weights, source = "digits", keras_famous.LeNet5(weights="digits")
    else:
        shape = (side, side, channels) if spec.contract.flatten_top else None
        source = registry.build_variant(name, variant, classes=1000, input_shape=shape)
        weights = str(tmp_path / f"{name}-1000.weights.h5")
        source.save_weights(weights)
    output = tmp_path / "tuned.keras"
    argv = ["train", name, "--dataset", str(photos), "--weights", weights, "--epochs", "1", "--batch", "8"]
    argv += ["--image-size", str(side), "--output", str(output)] + (["--variant", variant] if variant else [])
    saved, save = [], recipe.with_softmax
    monkeypatch.setattr(recipe, "with_softmax", lambda model: saved.append(save(model)) or saved[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert cli.main(argv) == 0
    # the file is the model trained (its reload with safe_mode is test_two_phases_...'s): 3 classes on raw pixels
    (tuned,) = saved
    with zipfile.ZipFile(output) as archive:
        config = json.loads(archive.read("config.json"))
    assert config["config"]["layers"][-1]["config"]["name"] == "probabilities" and tuned.output_shape == (None, 3)
    assert tuned.input_shape == (None, side, side, channels)
    # head-only epochs: every backbone weight (BatchNormalization statistics too) is the file's, bit for bit
    file_arrays = _backbone_arrays(source)
    backbone = _backbone_arrays(tuned.get_layer("backbone"))
    assert backbone and set(backbone) <= set(file_arrays)
    for layer, arrays in backbone.items():
        for mine, theirs in zip(arrays, file_arrays[layer]):
            np.testing.assert_array_equal(mine, theirs, err_msg=layer)


def test_two_phases_save_the_trained_model_and_score_what_was_printed(photos, tmp_path, capsys):
    output = tmp_path / "lenet.keras"
    argv = ["train", "LeNet5", "--dataset", str(photos), "--weights", "digits", "--epochs", "2"]
    argv += ["--fine-tune-epochs", "1", "--batch", "8", "--output", str(output), "--no-augment"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    # the classes and counts first, the bad files named
    assert "3 classes, 25 train / 9 test" in out and "digit1: 9 train, 3 test" in out
    assert "skipped 4 file(s)" in out and "truncated.jpg (not decodable" in out and "fake.png (not decodable" in out
    assert "notes.txt (not an image file" in out and "._whole.jpg (hidden file)" in out
    assert "head only: test accuracy" in out and "Epoch 3/3" in out
    printed = float(re.search(r"test accuracy ([0-9.]+) \(loss", out).group(1))
    model = keras.saving.load_model(output, safe_mode=True)
    folder = training.read_folder(photos)
    images = np.stack([training_data.decode(path, (32, 32), 1).numpy() for path in folder.test[0]])
    accuracy = float(np.mean(np.argmax(model(images, training=False), -1) == folder.test[1]))
    assert accuracy == pytest.approx(printed, abs=1e-4)
    assert not os.path.exists(f"{output}.checkpoints")
    # the file carries its class names: `keras-famous predict` labels the user's folder with them
    assert model_files.read_record(output)["class_names"] == list(folder.class_names)
    table = tmp_path / "predictions.csv"
    argv = ["predict", str(output), str(photos), "--output", str(table), "--top", "2", "--engine", "tensorflow"]
    assert cli.main(argv) == 0
    with open(table, newline="") as handle:
        rows = {row["path"]: row for row in csv.DictReader(handle)}
    bad = {"truncated.jpg", "fake.png"}  # rows with their errors; notes.txt and ._whole.jpg are not images
    assert {os.path.basename(path) for path, row in rows.items() if row["error"]} == bad
    assert len(rows) == 25 + 9 + len(bad)
    scores = model(images, training=False).numpy()
    for path, expected in zip(folder.test[0], scores):
        row = rows[os.path.abspath(path)]
        assert row["label_1"] == folder.class_names[int(np.argmax(expected))]
        assert float(row["score_1"]) == pytest.approx(float(np.max(expected)), abs=1e-5)


def _crash_after_training(monkeypatch):
    def crash(model):
        raise RuntimeError("the machine went down")

    monkeypatch.setattr(recipe, "check_identical_weights", crash)


def test_a_rerun_with_other_settings_is_refused_and_a_corrupt_checkpoint_falls_back(
    photos, tmp_path, monkeypatch, capsys
):
    output = tmp_path / "run.keras"
    argv = ["train", "LeNet5", "--dataset", str(photos), "--weights", "digits", "--epochs", "1", "--batch", "8"]
    argv += ["--fine-tune-epochs", "1", "--output", str(output)]
    with monkeypatch.context() as patch:
        _crash_after_training(patch)
        with pytest.raises(RuntimeError, match="went down"):
            cli.main(argv)
    checkpoints = tmp_path / "run.keras.checkpoints" / "process-0"
    assert sorted(os.listdir(checkpoints)) == ["epoch-0001.npz", "epoch-0002.npz"] and not output.exists()
    capsys.readouterr()
    assert cli.main([*argv, "--learning-rate", "0.01"]) == 2
    err = capsys.readouterr().err
    assert "--learning-rate: 0.001 then, 0.01 now" in err and "--restart" in err
    assert cli.main([*argv, "--batch", "4"]) == 2  # the last --batch counts
    assert "--batch: 8 then, 4 now" in capsys.readouterr().err
    assert cli.main([*argv, "--no-augment"]) == 2
    assert "--no-augment: True then, False now" in capsys.readouterr().err
    assert sorted(os.listdir(checkpoints)) == ["epoch-0001.npz", "epoch-0002.npz"]  # refusals touch nothing
    # the newest checkpoint torn (a crash mid-write on a file system without our atomic rename): the one before,
    # the end of the head phase, from which fine-tuning starts with the head's weights and a new optimizer
    head_end = np.load(checkpoints / "epoch-0001.npz")
    (checkpoints / "epoch-0002.npz").write_bytes((checkpoints / "epoch-0002.npz").read_bytes()[:1000])
    with monkeypatch.context() as patch:
        started = {}
        original = recipe.transfer.fine_tune

        def spy(model, *args, on_phase_start, **kwargs):
            def record(model, phase):
                on_phase_start(model, phase)
                started[phase.name] = [np.array(w) for w in model.weights]

            return original(model, *args, on_phase_start=record, **kwargs)

        patch.setattr(recipe.transfer, "fine_tune", spy)
        with pytest.warns(UserWarning, match="epoch-0002.npz cannot be read.*falling back"):
            assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Resuming after epoch 1" in out and "head only: test accuracy" in out and "Epoch 2/2" in out
    assert "Epoch 1/2" not in out and list(started) == ["fine_tune"]
    for index, restored in enumerate(started["fine_tune"]):
        np.testing.assert_array_equal(restored, head_end[f"v{index}"])
    assert output.exists() and not checkpoints.exists()


def test_restart_starts_over(photos, tmp_path, monkeypatch, capsys):
    output = tmp_path / "run.keras"
    argv = ["train", "LeNet5", "--dataset", str(photos), "--epochs", "1", "--batch", "8", "--output", str(output)]
    with monkeypatch.context() as patch:
        _crash_after_training(patch)
        with pytest.raises(RuntimeError):
            cli.main(argv)
    capsys.readouterr()
    assert cli.main([*argv, "--learning-rate", "0.01", "--restart"]) == 0
    out = capsys.readouterr().out
    assert "Resuming" not in out and "4/4 - " in out and output.exists(), out  # Keras prints no "Epoch 1/1"


def test_precision_flag_keeps_the_classifier_in_float32(photos, tmp_path, capsys):
    output = tmp_path / "bf16.keras"
    argv = ["train", "LeNet5", "--dataset", str(photos), "--epochs", "1", "--batch", "8", "--output", str(output)]
    assert cli.main([*argv, "--precision", "mixed_bfloat16"]) == 0
    assert "mixed_bfloat16" in capsys.readouterr().out
    assert keras.config.dtype_policy().name == "float32"  # the caller's policy is restored
    model = keras.saving.load_model(output, safe_mode=True)
    assert model.get_layer("c1").compute_dtype == "bfloat16"
    assert model.get_layer("predictions").compute_dtype == "float32" and model.output.dtype == "float32"


# -- folder layouts, bad files, decoding ------------------------------------------------------------------


def test_folder_layouts_as_users_make_them(tmp_path):
    both = _write_digits(_write_digits(tmp_path / "a", "train", 4), "valid", 2)
    folder = training.read_folder(both)
    assert folder.class_names == ("digit0", "digit1", "digit2") and folder.layout.startswith("train/ and valid/")
    assert folder.counts("train") == [4, 4, 4] and folder.counts("test") == [2, 2, 2]
    alone = training.read_folder(_write_digits(tmp_path / "b", "train", 5))  # no test folder: a fixed split
    assert folder.class_names == alone.class_names and alone.counts("train") == [4, 4, 4]
    assert alone.counts("test") == [1, 1, 1] and "fixed split" in alone.layout
    flat = _write_digits(tmp_path / "c", None, 5)
    _write_digits(flat, "test", 2)  # a test folder beside the class folders is the test split, not a class
    (flat / "run.keras.checkpoints" / "process-0").mkdir(parents=True)  # our own outputs are never classes
    (flat / ".thumbnails").mkdir()
    folder = training.read_folder(flat)
    assert folder.class_names == ("digit0", "digit1", "digit2") and folder.counts("test") == [2, 2, 2]
    one_image = training.read_folder(_write_digits(tmp_path / "d", None, 1))  # every class keeps its image
    assert one_image.counts("train") == [1, 1, 1] and one_image.counts("test") == [0, 0, 0]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda root: _write_digits(root, None, 3, classes=1), r"1 class folder\(s\).*at least two"),
        (lambda root: (_write_digits(root, None, 3), (root / "empty").mkdir()), r"\['empty'\].*no readable image"),
        (lambda root: (_write_digits(root, "train", 2), _write_digits(root, "test", 1, classes=4)), "digit3"),
    ],
    ids=["single-class", "empty-class", "unknown-test-class"],
)
def test_folders_that_cannot_train_a_classifier_are_refused_naming_the_flag(make, message, tmp_path, capsys):
    root = tmp_path / "data"
    make(root)
    with pytest.raises(ValueError, match=message):
        training.read_folder(root)
    assert cli.main(["train", "LeNet5", "--dataset", str(root), "--output", str(tmp_path / "m.keras")]) == 2
    assert "--dataset" in capsys.readouterr().err


def test_grayscale_rgba_palette_and_16_bit_files_decode_to_the_models_channels(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 10, 3), dtype="uint8")
    Image.fromarray(rgb).convert("L").save(tmp_path / "gray.png")
    Image.fromarray(np.dstack([rgb, np.full((12, 10), 128, "uint8")])).save(tmp_path / "rgba.png")
    Image.fromarray(rgb).convert("P").save(tmp_path / "palette.png")
    Image.fromarray((rgb[..., 0].astype("uint16") * 257)).save(tmp_path / "deep.png")  # 16-bit grayscale
    Image.fromarray(rgb).save(tmp_path / "photo.bmp")
    for name in ("gray", "rgba", "palette", "deep", "photo"):
        path = str(tmp_path / (name + (".bmp" if name == "photo" else ".png")))
        for channels in (1, 3):
            image = training_data.decode(path, (12, 10), channels).numpy()
            assert image.shape == (12, 10, channels) and 0 <= image.min() and image.max() <= 255.0001, name
    deep = training_data.decode(str(tmp_path / "deep.png"), (12, 10), 1).numpy()[..., 0]
    np.testing.assert_allclose(deep, rgb[..., 0], atol=1e-3)  # 16 bits scaled to [0, 255], not clipped


def test_each_process_decodes_its_share_of_every_global_batch(tmp_path, monkeypatch):
    """Two processes of one run: the same file-level shuffle, disjoint halves of every global batch that together
    are the batch, another order every epoch; nothing decoded is shuffled (memory flat in the images)."""
    folder = training.read_folder(_write_digits(tmp_path / "d", None, 6))
    paths, labels = folder.train
    seen = {}
    for index in (0, 1):
        monkeypatch.setattr(training_data, "current_process", lambda index=index: training.Process(index, 2))
        monkeypatch.setattr(training_data, "devices", lambda: [None, None])
        batches = training_data.training_batches(paths, labels, 4, size=(8, 8), channels=1, seed=3)
        # two epochs; an image is known by its pixels (every digit scan differs)
        seen[index] = [[[x.tobytes() for x in images] for images, _ in batches.as_numpy_iterator()] for _ in range(2)]
    steps = len(paths) // 4
    assert [len(epoch) for epoch in seen[0] + seen[1]] == [steps] * 4
    everything = {training_data.decode(path, (8, 8), 1).numpy().tobytes() for path in paths}
    for epoch in (0, 1):
        for mine, theirs in zip(seen[0][epoch], seen[1][epoch]):
            assert len(mine) == len(theirs) == 2 and not set(mine) & set(theirs)
        union = [image for batch in seen[0][epoch] + seen[1][epoch] for image in batch]
        assert len(set(union)) == steps * 4 and set(union) <= everything
    assert seen[0][0] != seen[0][1]  # reshuffled every epoch
    with pytest.raises(ValueError, match="`global_batch_size` 32 is more than the 15 training images"):
        training_data.training_batches(paths, labels, 32, size=(8, 8), channels=1)  # two devices: whole batches only


def test_evaluate_never_counts_padding_whatever_was_compiled():
    model = keras_famous.LeNet5(variant="modern")
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])  # unweighted: padding counted
    x = np.random.default_rng(0).uniform(-0.1, 1.1, (37, 32, 32, 1)).astype("float32")
    predictions = np.asarray(model(x, training=False))
    y = np.where(np.arange(37) % 3 == 0, predictions.argmax(-1), (predictions.argmax(-1) + 1) % 10)
    scores = training.evaluate(model, (x, y), global_batch_size=16)
    assert scores["accuracy"] == pytest.approx(np.mean(predictions.argmax(-1) == y), abs=1e-6)
    loss = -np.mean(np.log(predictions[np.arange(37), y]))
    assert scores["loss"] == pytest.approx(loss, rel=1e-4)


def test_a_wrong_unfreeze_layer_is_refused_before_any_epoch(photos, tmp_path, capsys):
    argv = ["train", "LeNet5", "--dataset", str(photos), "--weights", "digits", "--epochs", "1"]
    argv += ["--fine-tune-epochs", "1", "--unfreeze-from", "conv99", "--output", str(tmp_path / "m.keras")]
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    assert "--unfreeze-from conv99 is not a layer of backbone" in captured.err and "Epoch" not in captured.out
    assert cli.main([*argv[:4], "--fine-tune-epochs", "1", "--output", str(tmp_path / "m.keras")]) == 2
    assert "--fine-tune-epochs continues from pretrained --weights" in capsys.readouterr().err
