"""Blocking quality checks: a weak model is not quantized, and a lossy INT8 model is not benchmarked."""

import dagster as dg

TEST_ACCURACY_CHECK = "test_accuracy_floor"
INT8_DROP_CHECK = "int8_accuracy_drop"


def test_accuracy_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(TEST_ACCURACY_CHECK, asset=asset, blocking=True,
                             description="Test accuracy is at least quality.min_test_accuracy.")


def int8_drop_spec(asset: dg.AssetKey) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(INT8_DROP_CHECK, asset=asset, blocking=True,
                             description="INT8 test accuracy is at most quality.max_int8_accuracy_drop below FP32.")


def test_accuracy_check(accuracy: float, floor: float) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(check_name=TEST_ACCURACY_CHECK, passed=accuracy >= floor,
                               metadata={"test_accuracy": accuracy, "min_test_accuracy": floor})


def int8_drop_check(drop: float | None, margin: float) -> dg.AssetCheckResult:
    passed = drop is not None and drop <= margin
    return dg.AssetCheckResult(check_name=INT8_DROP_CHECK, passed=passed,
                               metadata={"accuracy_drop": drop if drop is not None else "unknown",
                                         "max_int8_accuracy_drop": margin})
