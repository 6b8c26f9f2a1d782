"""Frozen-backbone fine-tuning on an image folder (one sub-folder per class).

    python examples/fine_tune_image_folder.py DATA_DIR [--backbone ResNet50] [--weights imagenet] [--size 224]

Train the new head with the backbone frozen (its BatchNormalization layers stay in inference mode), then
unfreeze the last stage and continue with a 100x lower learning rate: `transfer.fine_tune`. The backbone is
built with `include_preprocessing=True`: it scales the pixels as its weights expect, so the dataset feeds raw
RGB pixels in [0, 255] (and so does the saved model at inference), augmented with Keras 3's own layers.
"""

import argparse

import keras
import tensorflow as tf

from keras_famous import registry, transfer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--backbone", default="ResNet50")
    parser.add_argument("--weights", default="imagenet", help="'imagenet', a weights file, or 'none'")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--head-epochs", type=int, default=5)
    parser.add_argument("--fine-tune-epochs", type=int, default=5)
    parser.add_argument("--unfreeze-from", default=None, help="first backbone layer to train in phase 2")
    parser.add_argument("--output", default="fine_tuned.keras")
    args = parser.parse_args()

    size = (args.size, args.size)
    train, val = keras.utils.image_dataset_from_directory(
        args.data_dir, image_size=size, batch_size=32, validation_split=0.2, subset="both", seed=0
    )
    classes = train.class_names
    augment = keras.Sequential(
        [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.05), keras.layers.RandomZoom(0.1)]
    )
    train = train.map(lambda x, y: (augment(x, training=True), y)).prefetch(tf.data.AUTOTUNE)
    val = val.prefetch(tf.data.AUTOTUNE)

    weights = None if args.weights == "none" else args.weights
    backbone = registry.get_model(  # takes pixels in [0, 255]
        args.backbone,
        include_top=False,
        pooling="avg",
        weights=weights,
        input_shape=(*size, 3),
        include_preprocessing=True,
    )
    model = transfer.classifier(backbone, classes=len(classes))
    transfer.fine_tune(
        model,
        train,
        validation_data=val,
        head_epochs=args.head_epochs,
        fine_tune_epochs=args.fine_tune_epochs,
        unfreeze_from=args.unfreeze_from,
    )
    model.save(args.output)
    print(f"saved {args.output} ({len(classes)} classes: {', '.join(classes)})")


if __name__ == "__main__":
    main()
