"""Reading whole numbers: a picture of "2026" → the text "2026", each digit with its box.

Above the models (any predictor with ``predict_proba``) and below the service and
the command line. numpy, onnxruntime and Pillow only, as the deployment path is.
"""

from __future__ import annotations

from ._paths import digit_scores
from ._read import DigitReading, NumberReading, read_numbers

__all__ = ["DigitReading", "NumberReading", "digit_scores", "read_numbers"]
