"""Inference variants beyond FP32 and INT8: bfloat16 in the benchmark worker, the deployed-variant
choice of the benchmark report, and the IPEX variants' message where IPEX is not installed."""

from __future__ import annotations

import pytest
import torch

from tl_engine.benchmark import benchmark_model, ipex_available
from tl_engine.benchmark.harness import BenchmarkSettings, run_variant
from tl_engine.benchmark.worker import load_variant
from tl_engine.dataset_factory import load_dataset
from tl_engine.errors import TLError
from tl_engine.model_factory import get_model
from tl_engine.pipeline.report_steps import choose_deployed_variant


@pytest.fixture(scope="module")
def small_model(training_dataset_dir, torch_hub_cache, tmp_path_factory):
    """A MobileNetV2 head trained for 3 epochs at 64 px, exported, with its dataset."""
    model = get_model("mobilenet_v2", "pytorch", image_size=64)
    dataset = load_dataset(training_dataset_dir, "image_classification", "pytorch")
    dataset.shuffle_split(train_pct=0.6, val_pct=0.2, test_pct=0.2, seed=0)
    dataset.preprocess(model.preprocessing, batch_size=16)
    model.train(dataset, epochs=3)
    return model, dataset, model.export(tmp_path_factory.mktemp("bf16") / "fp32")


def test_bf16_variant_agrees_with_fp32(small_model):
    model, dataset, model_dir = small_model
    inputs, _ = dataset.get_batch("test")

    module, _ = load_variant(str(model_dir), "bf16_eager")
    with torch.inference_mode():
        bf16_logits = module(inputs)

    assert bf16_logits.dtype == torch.float32
    fp32_classes = model.predict_logits(inputs).argmax(1)
    # bfloat16 weights moved MobileNetV2's features by about 9% (relative norm) here. That flips a few
    # near-tie predictions of a head trained for 3 epochs. At 128 px, 97% of the classes agreed.
    assert (bf16_logits.argmax(1) == fp32_classes).float().mean().item() >= 0.85


def test_bf16_variant_reports_accuracy(small_model):
    model, dataset, model_dir = small_model
    samples = [(str(dataset.samples[i].path), dataset.labels[i]) for i in dataset.splits["test"]]

    result = run_variant(model_dir, "bf16_eager", BenchmarkSettings(batch_sizes=[4], warmup=1, iterations=2),
                         samples)

    assert result["variant"] == "bf16_eager"
    assert result["timings"][0]["throughput_per_s"] > 0
    assert abs(result["accuracy"] - model.evaluate(dataset)["accuracy"]) <= 0.1


def test_benchmark_model_bfloat16_names_variant(small_model):
    _, _, model_dir = small_model

    result = benchmark_model(model_dir, batch_sizes=[2], iterations=2, warmup=1, compiled=False, bfloat16=True)

    assert result["variant"] == "bf16_eager"


@pytest.mark.skipif(ipex_available(), reason="IPEX is installed in this environment")
def test_ipex_variant_without_ipex_names_make_target(small_model):
    _, _, model_dir = small_model

    with pytest.raises(TLError, match="make ipex-env"):
        load_variant(str(model_dir), "ipex_fp32")


def _report(variants: dict[str, tuple[float, float | None]], fp32: float = 0.9, int8: float = 0.89) -> dict:
    """A benchmark report with one batch-32 timing per variant: {name: (throughput, measured accuracy)}."""
    report = {"accuracy": {"fp32": fp32, "int8": int8}, "variants": {}}
    for name, (throughput, accuracy) in variants.items():
        result = {"timings": [{"batch_size": 1, "throughput_per_s": throughput / 10},
                              {"batch_size": 32, "throughput_per_s": throughput}]}
        if accuracy is not None:
            result["accuracy"] = accuracy
        report["variants"][name] = result
    return report


def test_deployed_variant_is_fastest_within_margin():
    report = _report({"fp32_eager": (100, None), "fp32_compiled": (300, None), "bf16_compiled": (400, 0.9),
                      "int8_compiled": (900, None)})

    chosen = choose_deployed_variant(report, max_accuracy_drop=0.01)

    assert chosen["variant"] == "int8_compiled"
    assert chosen["batch_size"] == 32
    assert "fastest at batch 32" in chosen["reason"]


def test_deployed_variant_skips_inaccurate_int8():
    report = _report({"fp32_compiled": (300, None), "bf16_compiled": (400, 0.895), "int8_compiled": (900, None)},
                     int8=0.85)

    assert choose_deployed_variant(report, max_accuracy_drop=0.01)["variant"] == "bf16_compiled"


def test_deployed_variant_skips_bf16_without_measured_accuracy():
    report = _report({"fp32_compiled": (300, None), "bf16_compiled": (400, None)})

    assert choose_deployed_variant(report, max_accuracy_drop=0.01)["variant"] == "fp32_compiled"


class _SamePaddingConv(torch.nn.Conv2d):
    """Pads in its own forward, as EfficientNet ports' Conv2dStaticSamePadding does."""

    def __init__(self, channels, kernel_size, stride, pad):
        super().__init__(channels, channels, kernel_size, stride, groups=channels, bias=False)
        self.static_padding = torch.nn.ZeroPad2d(pad)

    def forward(self, inputs):
        return torch.nn.functional.conv2d(self.static_padding(inputs), self.weight, None, self.stride, 0, 1,
                                          self.groups)


@pytest.mark.parametrize("kernel_size, stride, pad", [(3, 1, (1, 1, 1, 1)), (3, 2, (0, 1, 0, 1)), (5, 2, (1, 2, 1, 2))])
def test_plain_same_padding_conv_matches(kernel_size, stride, pad):
    from tl_engine.benchmark.ipex_variants import _plain_same_padding_convs

    torch.manual_seed(0)
    model = torch.nn.Sequential(_SamePaddingConv(8, kernel_size, stride, pad), torch.nn.BatchNorm2d(8)).eval()
    inputs = torch.randn(2, 8, 32, 32)
    expected = model(inputs)
    assert _plain_same_padding_convs(model) == 1
    assert type(model[0]) is torch.nn.Conv2d
    assert not model[0].training
    torch.testing.assert_close(model(inputs), expected)


def test_plain_convolutions_keep_efficientnet_outputs(torch_hub_cache):
    from tl_engine.benchmark.ipex_variants import _plain_same_padding_convs

    backbone = get_model("efficientnet_lite0", "pytorch", image_size=64).backbone.eval()
    inputs = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = backbone(inputs)

    replaced = _plain_same_padding_convs(backbone)

    assert replaced == 49
    assert not any(isinstance(module, torch.nn.ZeroPad2d) for module in backbone.modules())
    with torch.inference_mode():
        torch.testing.assert_close(backbone(inputs), expected, rtol=1e-4, atol=1e-4)
