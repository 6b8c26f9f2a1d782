"""ResNeXt50 in an application: classify images with ImageNet weights.

    python examples/application.py photo1.jpg photo2.png [--weights imagenet|PATH]

`weights="imagenet"` downloads keras-applications' ResNeXt50 file once into KERAS_FAMOUS_HOME and checks
its md5; offline, the error names the URL and the exact path to put the file at. A path loads a file you
already have (a keras.applications .h5, a .weights.h5, a torchvision .pth/.safetensors for
variant="torchvision").
"""

import argparse

import keras
import numpy as np

import keras_famous


def load_images(paths, size):
    images = [keras.utils.img_to_array(keras.utils.load_img(path, target_size=size)) for path in paths]
    return np.stack(images)  # RGB in [0, 255]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("images", nargs="+")
    parser.add_argument("--weights", default="imagenet")
    args = parser.parse_args()
    model = keras_famous.ResNeXt50(weights=args.weights, include_preprocessing=True)  # scales as trained (caffe)
    x = load_images(args.images, (224, 224))
    for path, top5 in zip(args.images, keras_famous.decode_predictions(model.predict(x, verbose=0), top=5)):
        print(path)
        for wnid, name, score in top5:
            print(f"  {score:6.1%}  {name} ({wnid})")


if __name__ == "__main__":
    main()
