"""Training at scale with tf.distribute: pick a strategy, build and compile inside its scope, fit.

    strategy = training.strategy("mirrored")            # every GPU, or every logical CPU without one
    model, history = training.fit(lambda: keras_famous.ResNet50(classes=10), x, y, strategy=strategy,
                                  epochs=10, global_batch_size=256)

`fit` builds the model (and its optimizer's variables) under `strategy.scope()`, so the variables are
mirrored on every replica, and feeds a `tf.data` pipeline of the *global* batch, which the strategy
splits between the replicas. "multi_worker" is `MultiWorkerMirroredStrategy`, configured by the
`TF_CONFIG` environment variable of each worker. Without accelerators, `split_cpu(n)` (called before
TensorFlow first runs anything) makes n logical CPU devices so a mirrored run can be tried locally.
These strategies are TensorFlow's: under the JAX backend use `keras.distribution` instead.
"""

import keras

KINDS = ("auto", "default", "mirrored", "multi_worker")


def split_cpu(count):
    """Splits the physical CPU into `count` logical devices (before TensorFlow initialises its devices)."""
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError as error:
        raise RuntimeError(
            "split_cpu() must run before TensorFlow initialises its devices (before building any model)."
        ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def strategy(kind="auto", devices=None):
    """A tf.distribute strategy: "default" (one device), "mirrored" (`devices`, else all GPUs, else all
    logical CPUs), "multi_worker" (from TF_CONFIG), or "auto" (mirrored over two or more GPUs, else default)."""
    import tensorflow as tf

    if kind not in KINDS:
        raise ValueError(f"`kind` must be one of {KINDS}; received kind={kind!r}.")
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if kind == "auto":
        kind = "mirrored" if len(gpus) > 1 else "default"
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    devices = devices or gpus or [device.name for device in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def fit(
    build,
    x,
    y=None,
    *,
    strategy=None,
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=("accuracy",),
    epochs=1,
    global_batch_size=64,
    validation_data=None,
    verbose="auto",
    seed=0,
):
    """Builds `build()` and compiles it under `strategy` (default: the current one), then fits it on
    (x, y) in global batches. Returns (model, history)."""
    import tensorflow as tf

    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build()
        model.compile(optimizer=keras.optimizers.get(optimizer), loss=loss, metrics=list(metrics))
    data = x if y is None else tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=seed)
    if y is not None:
        data = data.batch(global_batch_size).prefetch(tf.data.AUTOTUNE)
    if validation_data is not None and not isinstance(validation_data, tf.data.Dataset):
        validation_data = tf.data.Dataset.from_tensor_slices(tuple(validation_data)).batch(global_batch_size)
    history = model.fit(data, epochs=epochs, validation_data=validation_data, verbose=verbose)
    return model, history
