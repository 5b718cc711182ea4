"""The benchmark variants of TensorFlow SavedModels, under the names the PyTorch variants use.

- `fp32_eager`: the Keras model called eagerly, layer by layer, as `model(images)` runs it.
- `fp32_compiled`: the serving function frozen into one graph whose batch norms are folded into
  the convolutions, by Neural Compressor's FP32 graph pre-optimizer. Grappler fuses batch norms
  into regular convolutions only, and the batch norms after MobileNetV2's 17 depthwise
  convolutions took about a quarter of the oneDNN time per batch otherwise. Predictions are unchanged. This is TensorFlow's counterpart of
  `torch.compile` with freezing.
- `bf16_eager`, `bf16_compiled`: the same with oneDNN's automatic bfloat16 rewrite of the graph.
  It speeds up the folded graph only (1.6x to 2x at batch 32 here, on a CPU with AMX).
- `int8_compiled`: the INT8 SavedModel that Neural Compressor wrote, as one graph.

Each variant returns a callable that takes the worker's NCHW torch batches and returns torch
logits, so the worker times and scores it exactly as it does a PyTorch module. The NCHW to NHWC
transpose of the batch that the worker times repeatedly is done once, not in every timed pass: at
batch 32 and 128 px it took 3.7 ms, a tenth of an INT8 pass.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tl_engine.errors import TLError
from tl_engine.store import describe_format
from tl_engine.tf_runtime import tensorflow, tf_keras

TF_VARIANTS = ("fp32_eager", "fp32_compiled", "bf16_eager", "bf16_compiled", "int8_compiled")


class TFModule:
    """Runs a TensorFlow function on NCHW torch batches and returns torch logits."""

    def __init__(self, function):
        self.function = function
        self._last_inputs = None
        self._last_converted = None

    def __call__(self, inputs):
        import torch

        from tl_engine.models.tf_image import nhwc

        if inputs is not self._last_inputs:
            self._last_inputs, self._last_converted = inputs, tensorflow().constant(nhwc(inputs))
        outputs = self.function(self._last_converted)
        return torch.from_numpy(outputs if isinstance(outputs, np.ndarray) else outputs.numpy())


def set_threads(threads: int) -> None:
    """Give TensorFlow `threads` threads inside each op and one op at a time, before it runs any op."""
    tf = tensorflow()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)


def load_tf_variant(model_dir: str | Path, variant: str, metadata: dict) -> TFModule:
    """Return the callable that one variant of a TensorFlow model folder runs."""
    if variant not in TF_VARIANTS:
        raise TLError(f"Variant {variant!r} does not apply to TensorFlow models. TensorFlow variants: "
                      f"{', '.join(TF_VARIANTS)}.")
    tf = tensorflow()
    saved_model = Path(model_dir) / metadata.get("weights_file", "saved_model")
    int8_folder = metadata["format"] == "tf_saved_model_int8"
    if variant.startswith("int8") != int8_folder:
        expected = "an INT8" if variant.startswith("int8") else "an FP32"
        raise TLError(f"Variant {variant} needs {expected} model folder, but {model_dir} contains "
                      f"{describe_format(metadata['format'])}.")
    if variant.startswith("bf16"):
        tf.config.optimizer.set_experimental_options({"auto_mixed_precision_onednn_bfloat16": True})
    if int8_folder:
        from tl_engine.quantization.tf_int8 import load_int8_saved_model

        return TFModule(load_int8_saved_model(saved_model))
    if variant.endswith("eager"):
        model = tf_keras().models.load_model(saved_model, compile=False)
        return TFModule(lambda images: model(images, training=False))
    return TFModule(folded_graph_function(saved_model))


def folded_graph_function(saved_model: Path):
    """Return the serving function of an FP32 SavedModel as one frozen graph with its batch norms folded."""
    import tempfile

    from neural_compressor.tensorflow.quantization.utils.graph_rewriter.generic.pre_optimize import PreOptimization

    from tl_engine.quantization.tf_int8 import freeze_serving_graph, graph_function, inc_graph_model

    frozen = freeze_serving_graph(saved_model)
    with tempfile.TemporaryDirectory(prefix="tl-fold-") as workspace:
        folded = PreOptimization(inc_graph_model(frozen, workspace), False, "cpu").get_optimized_model().graph_def
    return graph_function(folded, frozen.input_name, frozen.output_name)
