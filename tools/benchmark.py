"""Side-by-side inference benchmark (the same as `keras-famous bench`): keras_famous' engines,
keras.applications, torchvision/timm on PyTorch CPU and our TFLite exports under LiteRT, in one run.

    python tools/benchmark.py ResNet50 InceptionV3 DenseNet121 --batch 1 32 \\
        --json bench.json --markdown bench.md --png bench.png --build

See keras_famous/benchmarks/bench.py for what is measured and how.
"""

from keras_famous import benchmarks

if __name__ == "__main__":
    benchmarks.main()
