"""`keras-famous train` and `training.fit`: one process, two loopback worker processes on the JAX backend,
a killed worker and the resumed run, local devices, checkpoints, and the errors that name their flag."""

import os
import re
import signal
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

import keras_famous
from keras_famous import cli, datasets, training

ACCURACY = re.compile(r"test accuracy ([0-9.]+) \(loss [0-9.]+\) on 450 images")


def _command(*args):
    return [sys.executable, "-m", "keras_famous", "train", "LeNet5", *args]


def _environment(**extra):
    env = {key: value for key, value in os.environ.items() if not key.startswith("KERAS_DISTRIBUTION_")}
    env.pop("KERAS_BACKEND", None)
    return dict(env, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def _train(tmp_path, *args, **extra_env):
    return subprocess.run(
        _command(*args), cwd=tmp_path, capture_output=True, text=True, timeout=600, env=_environment(**extra_env)
    )


def _accuracy(stdout):
    found = ACCURACY.findall(stdout)
    assert len(found) == 1, stdout[-3000:]  # the chief alone prints it
    return float(found[0])


def _digits_pixels_test_accuracy(path):
    model = keras.saving.load_model(path, safe_mode=True)
    _, (x_test, y_test) = datasets.digits_32x32(pixels=True)
    return float(np.mean(np.argmax(model(x_test, training=False), axis=-1) == y_test))


@pytest.mark.slow
def test_two_workers_train_lenet5_to_the_single_process_accuracy_with_identical_weights(tmp_path):
    # the single process has two devices (XLA's host device count): JAX DataParallel over local devices
    one = _train(
        tmp_path, "--epochs", "3", "--output", "one.keras",
        KERAS_BACKEND="jax", XLA_FLAGS="--xla_force_host_platform_device_count=2",
    )  # fmt: skip
    assert one.returncode == 0, one.stderr[-3000:]
    assert "jax backend: 2 devices in 1 process, global batch 32" in one.stdout
    two = _train(tmp_path, "--epochs", "3", "--workers", "2", "--output", "two.keras")
    assert two.returncode == 0, two.stderr[-3000:]
    assert "Started 2 workers on the JAX backend" in two.stdout
    assert "jax backend: 2 devices in 2 processes, global batch 32" in two.stdout
    single, double = _accuracy(one.stdout), _accuracy(two.stdout)
    assert single > 0.9 and double > 0.9 and abs(single - double) < 0.04, (single, double)
    assert re.search(r"weights identical on the 2 processes \(sha256 [0-9a-f]{12}\)", two.stdout)
    # per-epoch lines from the chief only; gloo's C++ line is not shown
    assert [two.stdout.count(f"Epoch {epoch}/3") for epoch in (1, 2, 3)] == [1, 1, 1]
    assert "[Gloo]" not in two.stdout and "loss" in two.stdout.split("Epoch 3/3")[1]
    # the saved model (written by JAX) takes raw pixels and scores what the chief printed
    assert _digits_pixels_test_accuracy(tmp_path / "two.keras") == pytest.approx(double, abs=1e-4)
    assert sorted(os.listdir(tmp_path)) == ["one.keras", "two.keras"]  # checkpoints removed when done


def _read_until(process, prefix, deadline):
    lines = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return lines
    raise AssertionError(f"no line starting with {prefix!r} in time: {''.join(lines)[-3000:]}")


@pytest.mark.slow
def test_sigterm_to_the_launcher_stops_every_worker(tmp_path):
    """What `timeout`, schedulers and `kill` send: the launcher stops its workers, none is left, it exits 143."""
    launcher = subprocess.Popen(
        _command("--epochs", "3", "--workers", "2", "--output", "run.keras"),
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment(),
    )  # fmt: skip
    try:
        lines = _read_until(launcher, "Started 2 workers", time.monotonic() + 120)
        pids = [int(pid) for pid in re.findall(r"worker \d: pid (\d+)", "".join(lines))]
        time.sleep(3)  # the workers are starting (importing TensorFlow and JAX, then joining)
        launcher.send_signal(signal.SIGTERM)
        _, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == 128 + signal.SIGTERM and "stopped by SIGTERM" in stderr, stderr[-2000:]
    assert len(pids) == 2
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # reaped by the launcher: gone
            os.kill(pid, 0)


def test_a_worker_that_never_joins_stops_the_run_naming_it(tmp_path, capsys):
    """Worker 1 never reaches the coordinator (a busy machine, a hung import): after --join-timeout the launcher
    names it and stops both, instead of JAX's 300 s."""
    script = (
        "import os, time\n"
        "index = os.environ['KERAS_DISTRIBUTION_PROCESS_ID']\n"
        "marks = os.environ['KERAS_FAMOUS_JOIN_DIR']\n"
        "if index == '0': open(os.path.join(marks, 'worker-0.reached'), 'w').close()\n"
        "time.sleep(60)\n"
    )
    started = time.monotonic()
    code = training.launch(
        [sys.executable, "-c", script], 2, join_timeout=2, grace_seconds=2, out=open(os.devnull, "w")
    )
    assert code == 1 and time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert re.search(r"worker 1 \(pid \d+\) did not join the run's coordinator within --join-timeout 2 s", err), err
    assert "worker 0 (pid" not in err.split("did not join")[0]  # it reached the coordinator: not the cause


def test_the_forwarder_drains_the_chief_when_the_terminal_is_gone():
    from keras_famous.training import launcher

    class Closed:
        def write(self, text):
            raise BrokenPipeError("the terminal closed")

        def flush(self):
            pass

    reader, writer = os.pipe()
    with os.fdopen(writer, "wb") as chief:
        thread = threading.Thread(target=launcher._forward, args=(os.fdopen(reader, "rb"), Closed()))
        thread.start()
        chief.write(b"x" * (1 << 20) + b"\n")  # more than a pipe holds: blocks unless drained
    thread.join(10)
    assert not thread.is_alive()


@pytest.mark.slow
def test_a_killed_worker_stops_the_run_with_a_message_and_the_rerun_resumes(tmp_path):
    args = ("--epochs", "3", "--workers", "2", "--output", "run.keras")
    launcher = subprocess.Popen(
        _command(*args), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_environment()
    )
    try:
        lines = _read_until(launcher, "Epoch 2/3", time.monotonic() + 300)
        pid = int(re.search(r"worker 1: pid (\d+)", "".join(lines)).group(1))
        checkpoints = tmp_path / "run.keras.checkpoints"
        saved = sorted(path.name for path in checkpoints.glob("process-*/epoch-*.npz"))
        assert saved[-2:] == ["epoch-0001.npz", "epoch-0001.npz"], saved  # both processes after epoch 1
        os.kill(pid, signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=120)  # the launcher must not hang on the survivor
    finally:
        launcher.kill()
    assert launcher.returncode == 1
    assert f"worker 1 (pid {pid}) was killed by SIGKILL" in stderr and "resume" in stderr, stderr[-2000:]
    assert not (tmp_path / "run.keras").exists()
    resumed = _train(tmp_path, *args)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    done = re.search(r"Resuming after epoch (\d+) from the checkpoint", resumed.stdout)
    assert done and int(done.group(1)) >= 1, resumed.stdout[-3000:]  # at most the running epoch is lost
    first = int(done.group(1)) + 1
    assert "Epoch 1/3" not in resumed.stdout and f"Epoch {first}/3" in resumed.stdout
    assert _accuracy(resumed.stdout) > 0.9
    assert not (tmp_path / "run.keras.checkpoints").exists()


def test_fit_checkpoints_every_epoch_and_resumes_after_the_newest(tmp_path, capsys):
    (x, y), _ = datasets.digits_32x32()
    x, y = x[:96], y[:96]
    build = lambda: keras_famous.LeNet5(variant="modern")  # noqa: E731
    directory = tmp_path / "checkpoints"
    first, history = training.fit(build, x, y, epochs=2, global_batch_size=32, checkpoint_dir=directory, verbose=0)
    assert history.epoch == [0, 1] and sorted(os.listdir(directory / "process-0")) == [
        "epoch-0001.npz",
        "epoch-0002.npz",
    ]

    class StartingWeights(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.weights = [np.array(w) for w in self.model.get_weights()]
            self.iterations = int(self.model.optimizer.iterations)

    seen = StartingWeights()
    _, history = training.fit(
        build, x, y, epochs=3, global_batch_size=32, checkpoint_dir=directory, callbacks=[seen], verbose=1
    )
    assert history.epoch == [2] and "Resuming after epoch 2" in capsys.readouterr().out
    for restored, trained in zip(seen.weights, first.get_weights()):
        np.testing.assert_array_equal(restored, trained)
    assert seen.iterations == int(first.optimizer.iterations) == 6  # the optimizer state came back too
    assert sorted(os.listdir(directory / "process-0")) == ["epoch-0002.npz", "epoch-0003.npz"]  # the last two kept
    other = lambda: keras_famous.LeNet5()  # noqa: E731  (another architecture: its checkpoint does not fit)
    with pytest.raises(ValueError, match="another checkpoint directory"):
        training.fit(other, x, y, epochs=4, global_batch_size=32, checkpoint_dir=directory, verbose=0)


def _cli_error(capsys, argv):
    assert cli.main(argv) == 2
    return capsys.readouterr().err


def test_train_errors_name_the_flag_before_any_worker_starts(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    err = _cli_error(capsys, ["train", "LeNet5", "--workers", "2", "--output", str(tmp_path / "a.keras")])
    assert "JAX backend" in err and "keras-team/keras#20585" in err and "tensorflow/tensorflow#72388" in err
    monkeypatch.delenv("KERAS_BACKEND")
    existing = tmp_path / "exists.keras"
    existing.write_bytes(b"keep me")
    assert "--force" in _cli_error(capsys, ["train", "LeNet5", "--output", str(existing)])
    assert existing.read_bytes() == b"keep me"
    assert "--dataset" in _cli_error(capsys, ["train", "LeNet5", "--dataset", str(tmp_path / "missing")])
    assert "--batch" in _cli_error(capsys, ["train", "LeNet5", "--workers", "2", "--batch", "33"])
    assert "--output" in _cli_error(capsys, ["train", "LeNet5", "--output", str(tmp_path / "model.h5")])
    assert "--workers" in _cli_error(capsys, ["train", "LeNet5", "--workers", "0"])
    err = _cli_error(capsys, ["train", "ResNet18", "--dataset", str(tmp_path), "--image-size", "8"])
    assert "--image-size" in err and "at least" in err
    monkeypatch.setenv("KERAS_DISTRIBUTION_NUM_PROCESSES", "2")
    assert "KERAS_DISTRIBUTION_" in _cli_error(capsys, ["train", "LeNet5", "--workers", "2"])


def test_multi_worker_mirrored_strategy_is_refused_with_the_upstream_issue():
    with pytest.raises(ValueError, match=r"keras-team/keras#20585.*tensorflow/tensorflow#72388"):
        training.strategy("multi_worker")
    with pytest.raises(ValueError, match="needs the JAX backend"):
        training.initialize("127.0.0.1:1234", num_processes=2, process_id=0)
    assert training.initialize() == training.Process(0, 1)  # nothing configured: one process


def test_the_command_starts_quietly_on_another_backend():
    """Regression: the console loaded TensorFlow before Keras' backend, and torch after TensorFlow crashes; and
    `python -m keras_famous.cli` showed TensorFlow's start-up notices. The start-up is one code path whatever the
    backend (Keras, then TensorFlow, held quiet); torch is the backend that crashed."""
    env = {key: value for key, value in _environment(KERAS_BACKEND="torch").items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    command = [sys.executable, "-m", "keras_famous.cli", "summary", "LeNet5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Total params: 60,840" in result.stdout
    assert "oneDNN" not in result.stderr and "cuda" not in result.stderr.lower()
