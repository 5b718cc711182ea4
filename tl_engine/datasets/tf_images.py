"""The TensorFlow side of image datasets: a `tf.data.Dataset` fed by the shared loader."""

from __future__ import annotations

import numpy as np

from tl_engine.tf_runtime import tensorflow


def image_batches(dataset, subset: str, shuffle: bool = False, seed: int = 0):
    """Return a `tf.data.Dataset` of `(NHWC float32 images, int64 labels)` batches of one subset.

    The images are read, checked and transformed by the dataset's own loader, the same one that
    feeds PyTorch, then transposed to the NHWC layout that TensorFlow expects.
    """
    tf = tensorflow()
    size = int(dataset._require_preprocessing()["input_size"])
    dataset.subset_indices(subset)

    def generate():
        for inputs, labels in dataset.loader(subset, shuffle=shuffle, seed=seed):
            yield inputs.permute(0, 2, 3, 1).numpy(), np.asarray(labels, dtype=np.int64)

    signature = (tf.TensorSpec([None, size, size, 3], tf.float32), tf.TensorSpec([None], tf.int64))
    return tf.data.Dataset.from_generator(generate, output_signature=signature)
