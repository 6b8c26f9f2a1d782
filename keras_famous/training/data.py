"""What a run trains on: a folder of images read as users lay them out, or the digits, made into this
process's share of every global batch.

A folder is listed once (`read_folder`): its layout found, every file checked to decode (corrupt and non-image
files skipped, counted and named), the test split chosen. Training then shuffles file paths, not decoded
images - all of them, every epoch, with the same seed on every process - and each process reads and decodes
only its own share of each global batch, in parallel with prefetching (`tf.data` AUTOTUNE), so memory stays
flat in the number of images. Augmentation for fine-tuning: a random resized crop (area 25-100%, aspect 3/4-4/3;
keras.layers has no RandomResizedCrop, so it is cropped where the image is decoded) and `keras.layers.RandomFlip`.
"""

import dataclasses
import os

import numpy as np

from ..arguments import named
from ..image_files import IMAGE_SUFFIXES, check_channels, decode, read
from .distribution import current_process, devices

TEST_FOLDERS = ("test", "val", "valid", "validation")
OUR_OUTPUTS = (".checkpoints",)  # a run's checkpoint folder beside its output, which may be inside the dataset
CROP_AREA = (0.25, 1.0)
CROP_ASPECT = (3 / 4, 4 / 3)


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    """A listed folder: `class_names`, (paths, labels) arrays of the `train` and `test` splits, how it was
    read (`layout`), and the files `skipped` as (path, reason)."""

    root: str
    class_names: tuple
    train: tuple
    test: tuple
    layout: str
    skipped: tuple

    def counts(self, split="train"):
        labels = (self.train if split == "train" else self.test)[1]
        return np.bincount(labels, minlength=len(self.class_names)).tolist()

    def summary(self, shown=5):
        """The lines a run prints before training: layout, classes and counts, skipped files."""
        train, test = self.counts("train"), self.counts("test")
        lines = [f"{self.root}: {self.layout}; {len(self.class_names)} classes, {sum(train)} train / {sum(test)} test"]
        lines += [f"  {name}: {a} train, {b} test" for name, a, b in zip(self.class_names, train, test)]
        if self.skipped:
            lines.append(f"  skipped {len(self.skipped)} file(s) that are not readable images, e.g.:")
            lines += [f"    {path} ({reason})" for path, reason in self.skipped[:shown]]
        return "\n".join(lines)


def _visible_folders(directory):
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_dir() and not entry.name.startswith(".") and not entry.name.endswith(OUR_OUTPUTS)
    )


def _class_files(directory, class_names):
    """(paths, labels, skipped): every file under each class folder (recursively, hidden ones skipped)."""
    paths, labels, skipped = [], [], []
    for label, name in enumerate(class_names):
        for parent, folders, names in os.walk(os.path.join(directory, name), followlinks=True):
            folders[:] = sorted(folder for folder in folders if not folder.startswith("."))
            for file_name in sorted(names):
                path = os.path.join(parent, file_name)
                if file_name.startswith("."):  # .DS_Store, macOS's ._photo.jpg resource forks
                    skipped.append((path, "hidden file"))
                elif not file_name.lower().endswith(IMAGE_SUFFIXES):
                    skipped.append((path, f"not an image file ({', '.join(IMAGE_SUFFIXES)})"))
                else:
                    paths.append(path)
                    labels.append(label)
    return paths, labels, skipped


def _undecodable(paths):
    """The indices of `paths` TensorFlow cannot decode (truncated, corrupt, another format under an image
    suffix): every file is decoded once, in parallel (JPEG at 1/8 scale: the whole stream is still read)."""
    import tensorflow as tf

    if not paths:
        return set()

    def check(index, path):
        contents = tf.io.read_file(path)
        image = tf.cond(
            tf.io.is_jpeg(contents),
            lambda: tf.io.decode_jpeg(contents, ratio=8),
            lambda: tf.io.decode_image(contents, expand_animations=False),
        )
        tf.debugging.assert_positive(tf.size(image))
        return index

    indices = tf.data.Dataset.from_tensor_slices((np.arange(len(paths)), np.asarray(paths)))
    readable = indices.map(check, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False).ignore_errors()
    good = {int(index) for index in readable.as_numpy_iterator()}
    return set(range(len(paths))) - good


def _split(labels, test_fraction, seed):
    """A fixed stratified split: (train indices, test indices); every class keeps at least one training image."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = min(int(round(test_fraction * len(members))), len(members) - 1)
        test.extend(members[:count])
        train.extend(members[count:])
    return np.sort(np.array(train, dtype=int)), np.sort(np.array(test, dtype=int))


def _layout(directory):
    """(train root, test root or None, class names, description), or ValueError naming `--dataset`."""
    folders = _visible_folders(directory)
    tests = [name for name in TEST_FOLDERS if name in folders]
    if "train" in folders:
        classes = _visible_folders(os.path.join(directory, "train"))
        test_root = os.path.join(directory, tests[0]) if tests else None
        what = (
            f"train/ and {tests[0]}/" if tests else "train/ (no test, val, valid or validation folder: a fixed split)"
        )
        return os.path.join(directory, "train"), test_root, classes, what
    classes = [name for name in folders if name not in TEST_FOLDERS]
    if tests:
        return (
            directory,
            os.path.join(directory, tests[0]),
            classes,
            f"class folders, with {tests[0]}/ as the test split",
        )
    return directory, None, classes, "class folders (a fixed split)"


def read_folder(directory, *, test_fraction=0.2, seed=0, argument="dataset"):
    """Lists a folder of images (module note) as an `ImageFolder`. Layouts: DIR/train with DIR/test (or val,
    valid, validation), DIR/train alone (a fixed `test_fraction` of it is the test split), or class folders
    directly in DIR (with an optional DIR/test). Hidden folders and our own `*.checkpoints` are never classes;
    an empty class, a single class or a test class the training split lacks is a ValueError naming `argument`."""
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"{named(argument)} {directory!r} is not a folder of images (one subfolder per class).")
    train_root, test_root, class_names, layout = _layout(directory)
    if len(class_names) < 2:
        raise ValueError(
            f"{named(argument)} {directory!r} has {len(class_names)} class folder(s) ({class_names}) in {train_root}: "
            "a classifier needs at least two, one subfolder of images per class."
        )
    paths, labels, skipped = _class_files(train_root, class_names)
    test_paths, test_labels = [], []
    if test_root is not None:
        extra = sorted(set(_visible_folders(test_root)) - set(class_names))
        if extra:
            raise ValueError(
                f"{named(argument)}: {test_root} has class folders {extra} that {train_root} lacks; the test split's "
                f"classes must be the training classes {class_names}."
            )
        present = [name for name in class_names if os.path.isdir(os.path.join(test_root, name))]
        found, found_labels, found_skipped = _class_files(test_root, present)
        test_paths, skipped = found, skipped + found_skipped
        test_labels = [class_names.index(present[label]) for label in found_labels]
    everything = paths + test_paths
    bad = _undecodable(everything)
    skipped += [(everything[index], "not decodable: truncated or corrupt") for index in sorted(bad)]
    keep = np.array([index not in bad for index in range(len(everything))], dtype=bool)
    train_keep, test_keep = keep[: len(paths)], keep[len(paths) :]
    paths, labels = np.array(paths, dtype=str)[train_keep], np.array(labels, dtype="int64")[train_keep]
    test_paths, test_labels = np.array(test_paths, dtype=str)[test_keep], np.array(test_labels, "int64")[test_keep]
    empty = [name for label, name in enumerate(class_names) if not np.any(labels == label)]
    if empty:
        raise ValueError(
            f"{named(argument)}: the class folder(s) {empty} in {train_root} hold no readable image; remove them or add "
            "images."
        )
    if test_root is None:
        train_index, test_index = _split(labels, test_fraction, seed)
        paths, test_paths = paths[train_index], paths[test_index]
        labels, test_labels = labels[train_index], labels[test_index]
    return ImageFolder(
        os.path.abspath(directory),
        tuple(class_names),
        (paths, labels),
        (test_paths, test_labels),
        layout,
        tuple(skipped),
    )


# -- decoding and augmentation (tf.data, whatever the Keras backend) ---------------------------------------


def random_resized_crop(path, size, channels, seed):
    """`decode` of a random crop of 25-100% of the image's area and an aspect ratio of 3/4 to 4/3."""
    import tensorflow as tf

    image = read(path, channels)
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=seed,
        area_range=CROP_AREA,
        aspect_ratio_range=CROP_ASPECT,
        min_object_covered=0.0,
        use_image_if_no_bounding_boxes=True,
    )
    return tf.image.resize(tf.slice(image, begin, crop_size) * 255.0, size)


# -- global batches and this process's share ---------------------------------------------------------------


def _share(data, global_batch_size, drop_remainder):
    """Batches of `global_batch_size` of `data`'s elements, cut to this process's contiguous share, unbatched."""
    process = current_process()
    data = data.batch(global_batch_size, drop_remainder=drop_remainder)
    if process.count > 1:
        per_process = global_batch_size // process.count
        start = process.index * per_process
        data = data.map(lambda *batch: tuple(part[start : start + per_process] for part in batch))
    return data.unbatch()


def training_batches(paths, labels, global_batch_size, *, size, channels, seed=0, augment=False, drop_remainder=None):
    """This process's batches of (pixels, label) for training on files: the paths shuffled afresh every epoch
    (the same order on every process), each process decoding only its share of every global batch."""
    import keras
    import tensorflow as tf

    check_channels(channels)
    if drop_remainder is None:  # several devices: every batch is split evenly, so the last partial one is dropped
        drop_remainder = len(devices()) > 1
    per_process = global_batch_size // current_process().count
    data = tf.data.Dataset.from_tensor_slices((np.asarray(paths), np.asarray(labels)))
    data = data.shuffle(len(paths), seed=seed, reshuffle_each_iteration=True)
    data = _share(data, global_batch_size, drop_remainder)
    size = tuple(size)
    if augment:
        crop_seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
        data = tf.data.Dataset.zip((data, crop_seeds)).map(
            lambda example, crop_seed: (random_resized_crop(example[0], size, channels, crop_seed), example[1]),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    else:
        data = data.map(lambda path, label: (decode(path, size, channels), label), num_parallel_calls=tf.data.AUTOTUNE)
    data = data.batch(per_process, drop_remainder=drop_remainder)
    steps = len(paths) // global_batch_size if drop_remainder else -(-len(paths) // global_batch_size)
    if steps == 0:
        raise ValueError(
            f"{named('global_batch_size')} {global_batch_size} is more than the {len(paths)} training images, and every batch "
            "is split evenly over the devices: use a smaller batch."
        )
    data = data.apply(tf.data.experimental.assert_cardinality(steps))  # Keras' progress bar knows the epoch
    if augment:
        flip = keras.layers.RandomFlip("horizontal", seed=seed)
        data = data.map(lambda x, y: (flip(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def weighted_batches(data, global_batch_size, *, size=None, channels=None):
    """(batches, count): `data` as this process's share of global batches of (x, y, weight), and how many
    examples it holds. `data` is (paths, labels) of image files (decoded here, at `size` with `channels`), (x, y)
    arrays, or a tf.data.Dataset of (x, y) examples. Every example counts exactly once on any number of
    processes: the last global batch is filled with zero-weight copies of the first."""
    import tensorflow as tf

    files = size is not None
    if isinstance(data, tf.data.Dataset):
        examples = data
        count = example_count(data)
    else:
        examples = tf.data.Dataset.from_tensor_slices(tuple(np.asarray(part) for part in data))
        count = len(data[1])
    if count == 0:
        raise ValueError("There are no examples to evaluate.")
    weighted = examples.map(lambda x, y: (x, y, 1.0))
    padding = examples.take(1).repeat(-count % global_batch_size).map(lambda x, y: (x, y, 0.0))
    shared = _share(weighted.concatenate(padding), global_batch_size, drop_remainder=True)
    if files:
        check_channels(channels)
        shared = shared.map(
            lambda path, y, weight: (decode(path, tuple(size), channels), y, weight),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
    per_process = global_batch_size // current_process().count
    steps = -(-count // global_batch_size)
    shared = shared.batch(per_process).apply(tf.data.experimental.assert_cardinality(steps))
    return shared.prefetch(tf.data.AUTOTUNE), count


def example_count(data):
    """How many examples a tf.data.Dataset holds (counted when its cardinality is unknown)."""
    count = int(data.cardinality())
    return count if count >= 0 else int(data.reduce(0, lambda total, *_: total + 1))


def array_batches(x, y, global_batch_size, *, seed=0, drop_remainder=None):
    """This process's batches of in-memory (x, y) examples (or a tf.data.Dataset of them), shuffled every
    epoch with `seed` (the same order on every process)."""
    import tensorflow as tf

    data = x if y is None else tf.data.Dataset.from_tensor_slices((x, y))
    if drop_remainder is None:
        drop_remainder = len(devices()) > 1
    count = int(data.cardinality())
    if seed is not None:  # decoded examples: a bounded buffer (files shuffle their paths, all of them)
        data = data.shuffle(min(count, 10_000) if count > 0 else 10_000, seed=seed, reshuffle_each_iteration=True)
    per_process = global_batch_size // current_process().count
    data = _share(data, global_batch_size, drop_remainder).batch(per_process)
    if count > 0:
        steps = count // global_batch_size if drop_remainder else -(-count // global_batch_size)
        data = data.apply(tf.data.experimental.assert_cardinality(steps))
    return data.prefetch(tf.data.AUTOTUNE)
