"""INT8 quantization, one module per framework."""
