"""PyTorch and TensorFlow in one process, and the paths that must not import TensorFlow at all.

TensorFlow 2.21 and triton (which torch loads lazily) crash with SIGSEGV when triton loads after
TensorFlow. tl loads triton first whenever it imports TensorFlow. Each case runs in a fresh Python
process, so that a crash fails the test instead of ending the test run.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest

TENSORFLOW_THEN_TORCH = """
    import sys

    import numpy as np
    import torch

    import tl_engine
    from tl_engine.model_factory import get_model

    tf_model = get_model("mobilenet_v2", "tensorflow", image_size=32)
    features = tf_model.backbone(np.zeros((2, 32, 32, 3), dtype=np.float32))
    # torch.compile loads triton, which crashes a process that loaded TensorFlow first.
    torch_model = get_model("mobilenet_v2", "pytorch", image_size=32)
    compiled = torch.compile(torch_model.backbone.eval())
    with torch.inference_mode():
        outputs = compiled(torch.zeros(2, 3, 32, 32))
    print(sorted(name for name in ("tensorflow", "triton") if name in sys.modules), features.shape[-1],
          outputs.shape[-1])
"""


def run_python(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def test_triton_after_tensorflow_crashes_without_tl():
    """The hazard itself: importing triton after tensorflow, with nothing of tl in between, kills the process."""
    completed = run_python("import tensorflow\nimport triton\n")

    assert completed.returncode == -signal.SIGSEGV


@pytest.mark.slow
def test_tensorflow_then_compiled_torch_one_process(tfhub_cache):
    completed = run_python(TENSORFLOW_THEN_TORCH)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split("\n")[-2] == "['tensorflow', 'triton'] 1280 1280"


def test_pytorch_training_does_not_import_tensorflow(training_dataset_dir, torch_hub_cache):
    completed = run_python(f"""
        import sys

        from tl_engine.dataset_factory import load_dataset
        from tl_engine.model_factory import get_model

        model = get_model("mobilenet_v2", "pytorch", image_size=32)
        dataset = load_dataset({str(training_dataset_dir)!r}, "image_classification", "pytorch")
        dataset.shuffle_split(0.6, 0.2, 0.2, seed=0)
        dataset.preprocess(model.preprocessing, 16)
        model.train(dataset, epochs=1)
        model.evaluate(dataset)
        print("tensorflow" in sys.modules)
    """)

    assert completed.returncode == 0, completed.stderr[-3000:]
    assert completed.stdout.split("\n")[-2] == "False"
