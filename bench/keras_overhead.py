"""Engine overhead in TensorFlow: tl's loops against Keras' own `predict`, `fit` and `evaluate`.

Each pair does the same work at the same batch size and thread count: the same TensorFlow Hub
backbone and head, the same images read by the same loader. The tl side is the public API:
`model.extract_features`, `model.train` on cached features and `model.evaluate`. The Keras side is
what a Keras user writes: `backbone.predict`, `head.fit` with a validation set, `model.evaluate`.
The two sides take turns going first, and each figure is the median of the repeats.
"""

from __future__ import annotations

import numpy as np

from bench import common

TITLE = "Engine overhead in TensorFlow: tl's loops against Keras predict, fit and evaluate"
COLUMNS = ["loop", "tl_seconds", "keras_seconds", "overhead_pct", "images", "repeats", "threads"]
QUICK = {"samples": 300, "image_size": 64, "epochs": 2, "repeats": 3}
FULL = {"samples": 1000, "image_size": 128, "epochs": 2, "repeats": 4}


def add_arguments(parser) -> None:
    common.add_overhead_arguments(parser)


def _loops(model, backbone_model, dataset, epochs: int, batch_size: int) -> dict[str, tuple]:
    """Return, per loop, the tl callable and the Keras callable that do the same work."""
    from tl_engine.tf_runtime import tf_keras

    keras = tf_keras()

    def compile_for_training(network):
        network.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3),
                        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    features = {subset: model.extract_features(dataset, subset) for subset in ("train", "validation")}
    train_x, train_y = features["train"]

    def keras_features():
        return backbone_model.predict(dataset.tf_dataset("train"), verbose=0)

    def keras_head():
        model.set_classes(dataset.class_names)
        model.head.get_layer("norm").adapt(train_x, batch_size=1024)
        compile_for_training(model.head)
        model.head.fit(train_x, train_y, batch_size=batch_size, epochs=epochs * 10, shuffle=True, verbose=0,
                       validation_data=features["validation"], callbacks=[best_weights_callback(keras)])

    def keras_evaluate():
        compile_for_training(model.model)
        return model.model.evaluate(dataset.tf_dataset("train"), verbose=0)

    return {
        "feature extraction (train subset)": (lambda: model.extract_features(dataset, "train"), keras_features),
        "evaluation (train subset)": (lambda: model.evaluate(dataset, "train"), keras_evaluate),
        f"head training on cached features ({epochs * 10} epochs)": (
            lambda: model.train(dataset, epochs=epochs * 10, features=features), keras_head),
    }


def best_weights_callback(keras):
    """A callback that keeps the weights of the best validation accuracy, as tl does (and most Keras users)."""

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.weights = -1.0, None

        def on_epoch_end(self, epoch, logs=None):
            if logs["val_accuracy"] > self.best:
                self.best, self.weights = logs["val_accuracy"], self.model.get_weights()

        def on_train_end(self, logs=None):
            self.model.set_weights(self.weights)

    return BestWeights()


def run(args, quick: bool) -> dict:
    from tl_engine import model_factory
    from tl_engine.benchmark.tf_variants import set_threads
    from tl_engine.models.tf_converted import seed_tfhub_cache
    from tl_engine.tf_runtime import tf_keras

    set_threads(args.threads)
    seed_tfhub_cache()
    plan = dict(QUICK if quick else FULL)
    samples = args.samples or plan["samples"]
    image_size = args.image_size or plan["image_size"]
    epochs = (args.epochs or [plan["epochs"]])[0]
    repeats = args.repeats or plan["repeats"]
    folder = common.image_folder(args.work_dir / f"fashion-{samples}", samples)
    model = model_factory.get_model("mobilenet_v2", "tensorflow", image_size=image_size, head_hidden_units=256)
    dataset = common.image_dataset(folder, model, args.batch_size, framework="tensorflow")
    keras = tf_keras()
    images = keras.Input((image_size, image_size, 3))
    backbone_model = keras.Model(images, model.backbone(images))
    model.train(dataset, epochs=1)  # builds the head, so evaluation has a whole network
    model.predict_logits(np.zeros((2, image_size, image_size, 3), dtype=np.float32))
    rows = []
    for loop, (tl_side, keras_side) in _loops(model, backbone_model, dataset, epochs, args.batch_size).items():
        tl_seconds, keras_seconds = common.paired_medians(tl_side, keras_side, repeats)
        rows.append({"loop": loop, "tl_seconds": round(tl_seconds, 3), "keras_seconds": round(keras_seconds, 3),
                     "overhead_pct": round(100 * (tl_seconds / keras_seconds - 1), 1),
                     "images": len(dataset.splits["train"]), "repeats": repeats, "threads": args.threads})
    return {"settings": {"model": "mobilenet_v2 (tensorflow)", "samples": samples, "image_size": image_size,
                         "epochs": epochs, "batch_size": args.batch_size}, "rows": rows}
