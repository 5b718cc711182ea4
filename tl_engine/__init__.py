"""tl_engine: fine-tune pretrained models on your own data, quantize them to INT8 and benchmark them.

Importing the package is cheap: frameworks are imported only when a model or dataset needs them.

Example:
    >>> from tl_engine import dataset_factory, model_factory
    >>> model = model_factory.get_model("mobilenet_v2", "pytorch", image_size=128)
"""

__version__ = "0.1.0"
