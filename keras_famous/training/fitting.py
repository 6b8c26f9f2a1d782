"""`fit` and `evaluate` on one device, several devices or several processes: the distribution chosen by the
Keras backend (`distribution`), each process feeding its own share of every global batch (`data`).

    model, history = training.fit(lambda: keras_famous.ResNet50(classes=10), x, y,
                                  epochs=10, global_batch_size=256, checkpoint_dir="ckpt")
"""

import keras

from .checkpoints import EpochCheckpoint
from .data import array_batches, weighted_batches
from .distribution import check_global_batch_size, current_process, scope


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
    checkpoint_dir=None,
    callbacks=(),
    verbose="auto",
    seed=0,
):
    """Builds `build()` and compiles it where the backend distributes it (on TensorFlow inside `strategy`'s
    scope: `distribution.strategy("mirrored")` trains on every GPU of the machine), then fits it on (x, y) in
    global batches of `global_batch_size`. `optimizer`: a name, a config, or a function making one (an optimizer
    made before the distribution is set has variables on one device: JAX refuses it). With `checkpoint_dir`,
    resumes after the newest checkpointed epoch and checkpoints every epoch. Only the chief process prints.
    `validation_data` is padded like `evaluate`'s, so its accuracy is exact and its loss is scaled by examples /
    padded examples. Returns (model, history); `history.epoch` lists the epochs this call ran."""
    import tensorflow as tf

    process = current_process()
    with scope(strategy):
        model = build()
        optimizer = optimizer() if callable(optimizer) else keras.optimizers.get(optimizer)
        # weighted: the validation data pads the last global batch with zero-weight examples
        model.compile(optimizer=optimizer, loss=loss, weighted_metrics=list(metrics))
        if (y is None) != isinstance(x, tf.data.Dataset):
            raise ValueError("Give `x` and `y` as arrays, or `x` as a tf.data.Dataset of (image, label) examples.")
        if keras.config.backend() == "jax":
            check_global_batch_size(global_batch_size)
        data = array_batches(x, y, global_batch_size, seed=seed)
        if validation_data is not None:
            validation_data = weighted_batches(validation_data, global_batch_size)[0]
        callbacks = list(callbacks)
        initial_epoch = 0
        if checkpoint_dir is not None:
            checkpoint = EpochCheckpoint(checkpoint_dir)
            initial_epoch = checkpoint.restore(model)
            callbacks.append(checkpoint)
            if initial_epoch and process.chief and verbose:
                print(f"Resuming after epoch {initial_epoch} from the checkpoint in {checkpoint_dir}", flush=True)
        history = model.fit(
            data,
            epochs=epochs,
            initial_epoch=initial_epoch,
            validation_data=validation_data,
            callbacks=callbacks,
            shuffle=False,  # the batches are shuffled above, the same way on every process
            verbose=verbose if process.chief else 0,
        )
    return model, history


def evaluate(model, data, global_batch_size=64, *, from_logits=False, size=None, channels=None):
    """{"loss", "accuracy"} of a classifier on `data` - (x, y) arrays, a tf.data.Dataset of examples, or (paths,
    labels) of image files decoded at `size` with `channels` - on any number of processes. Each process scores
    its share; the last global batch is padded with zero-weight copies (`data.weighted_batches`), which the
    metrics here never count: they are compiled on a model sharing `model`'s layers, whatever `model` was
    compiled with. The loss is the mean sparse crossentropy of the real examples."""
    batches, count = weighted_batches(data, global_batch_size, size=size, channels=channels)
    scorer = keras.Model(model.inputs, model.outputs[0], name=f"{model.name}_scorer")
    scorer.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
        weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
    )
    scores = scorer.evaluate(batches, verbose=0, return_dict=True)
    # Keras' loss is sum(weight * loss) / examples in the batch: the padding counted in the denominator
    scores["loss"] *= (count + -count % global_batch_size) / count
    return {"loss": float(scores["loss"]), "accuracy": float(scores["accuracy"])}
