"""keras_famous.files: every writer replaces its target in one step or leaves it as it was."""

import os

import pytest

from keras_famous import files
from keras_famous.arguments import spelled


class Failure(Exception):
    pass


def _names(directory):
    return sorted(p.name for p in directory.iterdir())


@pytest.fixture
def umask():
    previous = os.umask(0o027)
    yield 0o027
    os.umask(previous)


def test_success_replaces_the_file(tmp_path):
    target = tmp_path / "table.json"
    target.write_text("old")
    with files.atomic_file(target, "w") as out:
        out.write("new é")
        assert target.read_text() == "old"  # not before the block ends
    assert target.read_text(encoding="utf-8") == "new é" and _names(tmp_path) == ["table.json"]
    with files.atomic_file(tmp_path / "fresh.bin") as out:
        out.write(b"\x00\x01")
    assert (tmp_path / "fresh.bin").read_bytes() == b"\x00\x01"


def test_an_error_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "weights.h5"
    target.write_bytes(b"old")
    with pytest.raises(Failure), files.atomic_file(target) as out:
        out.write(b"half")
        raise Failure
    with pytest.raises(Failure), files.atomic_path(target) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(b"half")
        raise Failure
    assert target.read_bytes() == b"old" and _names(tmp_path) == ["weights.h5"]
    with pytest.raises(Failure), files.atomic_file(tmp_path / "new.h5") as out:
        raise Failure
    assert _names(tmp_path) == ["weights.h5"]


def test_the_temporary_entry_is_beside_the_target_and_named_as_asked(tmp_path):
    with files.atomic_path(tmp_path / "model.keras", suffix=".keras") as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith(".model.keras.tmp-") and tmp.endswith(".keras")
        open(tmp, "wb").close()
    with files.atomic_file(tmp_path / "w.bin", prefix=".download-1-", suffix=".part") as out:
        assert os.path.basename(out.name).startswith(".download-1-") and out.name.endswith(".part")
    assert _names(tmp_path) == ["model.keras", "w.bin"]


def test_the_umask_decides_the_mode(tmp_path, umask):
    assert files.file_mode() == 0o640
    with files.atomic_file(tmp_path / "a.json", "w") as out:
        out.write("{}")
    with files.atomic_path(tmp_path / "b.h5") as tmp:  # mkstemp makes it 0600
        open(tmp, "wb").close()
    with files.atomic_path(tmp_path / "saved", directory=True) as tmp:
        os.mkdir(tmp)
    modes = {name: oct((tmp_path / name).stat().st_mode & 0o777) for name in _names(tmp_path)}
    assert modes == {"a.json": "0o640", "b.h5": "0o640", "saved": "0o750"}


def _saved_model(path, text):
    os.mkdir(path)
    with open(os.path.join(path, "saved_model.pb"), "w") as handle:
        handle.write(text)
    os.mkdir(os.path.join(path, "variables"))


@pytest.mark.parametrize("exchange", [True, False], ids=["exchange", "rename-aside"])
def test_a_directory_replaces_a_directory_or_keeps_it(tmp_path, monkeypatch, exchange):
    if not exchange:  # systems without renameat2(RENAME_EXCHANGE)
        monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "saved"
    _saved_model(target, "old")
    with pytest.raises(Failure), files.atomic_path(target, directory=True) as tmp:
        _saved_model(tmp, "half")
        raise Failure
    assert (target / "saved_model.pb").read_text() == "old" and _names(tmp_path) == ["saved"]
    with files.atomic_path(target, directory=True) as tmp:
        _saved_model(tmp, "new")
    assert (target / "saved_model.pb").read_text() == "new" and _names(tmp_path) == ["saved"]
    assert _names(target) == ["saved_model.pb", "variables"]


def test_a_failed_rename_puts_the_old_directory_back(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_exchange", lambda a, b: False)
    target = tmp_path / "saved"
    _saved_model(target, "old")
    real_replace = os.replace

    def replace(source, destination):
        if os.fspath(destination) == str(target) and ".tmp-" in os.fspath(source):
            raise OSError("disk gone (simulated)")
        return real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"), files.atomic_path(target, directory=True) as tmp:
        _saved_model(tmp, "new")
    assert (target / "saved_model.pb").read_text() == "old" and _names(tmp_path) == ["saved"]


def test_a_directory_replaces_a_file_but_a_file_never_a_directory(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"file")
    with files.atomic_path(target, directory=True) as tmp:
        _saved_model(tmp, "dir")
    assert (target / "saved_model.pb").read_text() == "dir" and _names(tmp_path) == ["out"]
    with pytest.raises(IsADirectoryError, match="a file does not replace it"), files.atomic_file(target) as out:
        out.write(b"file")
    assert (target / "saved_model.pb").read_text() == "dir" and _names(tmp_path) == ["out"]  # the scratch removed


def test_existing_targets_need_the_flag(tmp_path):
    target = tmp_path / "m.tflite"
    files.check_writable_target(target, overwrite=False)
    target.write_bytes(b"")
    files.check_writable_target(target, overwrite=True)
    with pytest.raises(FileExistsError, match=r"pass overwrite=True to replace"):
        files.check_writable_target(target, overwrite=False)
    with pytest.raises(FileExistsError, match="pass --force to replace"), spelled(overwrite="--force"):
        files.check_writable_target(target, overwrite=False)
    with pytest.raises(ValueError, match="`mode`"), files.atomic_file(target, "a"):
        pass


def test_export_overwrites_in_one_step_and_keeps_the_original_on_failure(tmp_path, monkeypatch):
    import keras

    from keras_famous import export

    inputs = keras.Input((8, 8, 1))
    x = keras.layers.BatchNormalization()(keras.layers.Conv2D(4, 3, use_bias=False)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x)))
    target = tmp_path / "lenet"
    _saved_model(target, "old")

    def refuse(*args):
        raise ValueError("over the tolerance (simulated)")

    (tmp_path / "lenet.tflite").write_bytes(b"old")
    with monkeypatch.context() as patch:
        patch.setattr(export, "_verify", refuse)
        with pytest.raises(ValueError, match="simulated"):
            export.export(model, target, format="saved_model", overwrite=True)
        with pytest.raises(ValueError, match="simulated"):
            export.export(model, tmp_path / "lenet.tflite", format="tflite", overwrite=True, saved_model_path=target)
    assert (target / "saved_model.pb").read_text() == "old" and (tmp_path / "lenet.tflite").read_bytes() == b"old"
    assert _names(tmp_path) == ["lenet", "lenet.tflite"]
    report = export.export(model, target, format="saved_model", overwrite=True)
    assert report.top1_agreement == 1.0 and (target / "saved_model.pb").stat().st_size > 3
    report = export.export(model, tmp_path / "lenet.tflite", format="tflite", overwrite=True, saved_model_path=target)
    assert report.top1_agreement == 1.0 and report.saved_model.top1_agreement == 1.0
    assert (tmp_path / "lenet.tflite").stat().st_size == report.size_bytes > 3
    assert _names(tmp_path) == ["lenet", "lenet.tflite"]
