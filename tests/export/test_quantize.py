"""The int8 export's refusals, in Python's words and in the command line's."""

from __future__ import annotations

import pytest

from skdigits._core.errors import on_command_line
from skdigits.export.quantize import QuantizationReport, SlowerThanFp32Error, _check_speed


def test_a_slower_int8_model_is_refused_naming_the_parameter_or_the_option():
    report = QuantizationReport(
        "static", 1000, 0.98, 0.979, fp32_images_per_s=20_000.0, int8_images_per_s=10_000.0
    )
    _check_speed(report, allow_slower=True)  # allowed: nothing raised
    with pytest.raises(SlowerThanFp32Error) as info:
        _check_speed(report, allow_slower=False)
    assert "pass allow_slower=True if the smaller file matters more" in str(info.value)
    shown = on_command_line(info.value)
    assert "pass --allow-slower if the smaller file matters more" in shown
    assert "allow_slower" not in shown
