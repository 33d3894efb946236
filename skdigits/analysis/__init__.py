"""Measuring and choosing models: evaluation, fit-and-score, grid search, the HTML report.

Importing the package is cheap; each name loads its module on first use (the
report needs the ``plot`` extra, a Dask search the ``search`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._core.lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from ._evaluation import Evaluation, evaluate_predictions, format_confusion
    from ._report import ReportResult, check_report_dir, write_report
    from ._search import (
        ParamGridError,
        SearchProgress,
        build_param_grid,
        check_param_grid,
        check_search_size,
        count_candidates,
        dask_backend,
        default_param_grid,
        format_results,
        load_grid_toml,
        parse_param,
        write_results_csv,
    )
    from ._training import TrainingResult, fit_and_evaluate

__all__ = [
    "Evaluation",
    "ParamGridError",
    "ReportResult",
    "SearchProgress",
    "TrainingResult",
    "build_param_grid",
    "check_param_grid",
    "check_report_dir",
    "check_search_size",
    "count_candidates",
    "dask_backend",
    "default_param_grid",
    "evaluate_predictions",
    "fit_and_evaluate",
    "format_confusion",
    "format_results",
    "load_grid_toml",
    "parse_param",
    "write_report",
    "write_results_csv",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "._evaluation": ["Evaluation", "evaluate_predictions", "format_confusion"],
        "._report": ["ReportResult", "check_report_dir", "write_report"],
        "._search": [
            "ParamGridError",
            "SearchProgress",
            "build_param_grid",
            "check_param_grid",
            "check_search_size",
            "count_candidates",
            "dask_backend",
            "default_param_grid",
            "format_results",
            "load_grid_toml",
            "parse_param",
            "write_results_csv",
        ],
        "._training": ["TrainingResult", "fit_and_evaluate"],
    },
)
