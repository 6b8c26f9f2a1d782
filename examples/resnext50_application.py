"""ResNeXt50 in an application: build, inspect, classify a batch (random weights until the weights
manifest lands; pass weights="path/to/file.weights.h5" to load weights you have)."""

import numpy as np

import keras_famous

model = keras_famous.ResNeXt50(include_preprocessing=True)  # takes pixels in [0, 255]
info = keras_famous.model_info("ResNeXt50")
print(f"{model.name}: {info.params:,} parameters, {info.macs / 1e9:.2f} GMACs, depth {info.depth}")
images = np.random.default_rng(0).uniform(0, 255, size=(2, 224, 224, 3)).astype("float32")
probabilities = model.predict(images, verbose=0)
print("top-1 class per image:", probabilities.argmax(axis=1))
