"""Model selection: typed grids, GridSearchCV over the pipeline (local and on Dask), the CLI."""

from __future__ import annotations

import csv
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from skdigits.analysis._search import (
    MAX_CANDIDATES,
    ParamGridError,
    build_param_grid,
    check_param_grid,
    check_search_size,
    count_candidates,
    default_param_grid,
    format_results,
    load_grid_toml,
    parse_param,
    parse_value,
    results_to_csv,
)

# One small search, shared by the tests below: 2 learning rates x 2 folds on 600 images, 1 epoch.
N_IMAGES = 600
#: ``skdigits search`` arguments of the CLI tests: a small grid of two learning rates.
SMALL_GRID = ["--subset", str(N_IMAGES), "--param", "epochs=1"]
SMALL_GRID += ["--param", "optimizer__learning_rate=1e-3,1e-2", "--cv", "2"]
GRID = {"clf__optimizer__learning_rate": [1e-3, 1e-2]}


def _search_parts():
    from sklearn.model_selection import StratifiedKFold

    from skdigits import make_pipeline

    pipe = make_pipeline(epochs=1, random_state=0)
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    return pipe, cv


@pytest.fixture(scope="module")
def data(mnist):
    X, y, _, _ = mnist
    return X[:N_IMAGES], y[:N_IMAGES]


@pytest.fixture(scope="module")
def local_search(data):
    """GridSearchCV(n_jobs=2) over the pipeline, as a Python user writes it."""
    from sklearn.model_selection import GridSearchCV

    pipe, cv = _search_parts()
    return GridSearchCV(pipe, GRID, cv=cv, n_jobs=2).fit(*data)


# --- grids from text ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100", 100),
        ("-3", -3),
        ("1e-3", 0.001),
        ("0.5", 0.5),
        (".5", 0.5),
        ("None", None),
        ("null", None),
        ("TRUE", True),
        ("false", False),
        ("sigmoid", "sigmoid"),
        ("'100'", "100"),
        ('"none"', "none"),
        ("nan", "nan"),
    ],
)
def test_parse_value_types(text, expected):
    value = parse_value(text)
    assert value == expected
    assert type(value) is type(expected)


def test_parse_param_routes_and_types():
    assert parse_param("hidden_units=50,100") == ("clf__hidden_units", [50, 100])
    assert parse_param("clf__optimizer__learning_rate=1e-3, 3e-3") == (
        "clf__optimizer__learning_rate",
        [0.001, 0.003],
    )
    assert parse_param("output-activation=softmax,sigmoid") == (
        "clf__output_activation",
        ["softmax", "sigmoid"],
    )
    for bad, message in [
        ("hidden_units", "no '='"),
        ("hidden_units=50,,100", "empty value"),
        ("=1", "not valid"),
    ]:
        with pytest.raises(ParamGridError, match=message):
            parse_param(bad)


def test_toml_grid_nests_and_types(tmp_path):
    path = tmp_path / "grid.toml"
    path.write_text(
        "hidden_units = [50, 100]\n"
        "optimizer.learning_rate = [1e-3, 3e-3]\n"
        'output_activation = ["softmax", "sigmoid"]\n'
        "epochs = 2\n"
        '"clf__class_weight" = ["none", "balanced"]\n'
    )
    assert load_grid_toml(path) == {
        "clf__hidden_units": [50, 100],
        "clf__optimizer__learning_rate": [0.001, 0.003],
        "clf__output_activation": ["softmax", "sigmoid"],
        "clf__epochs": [2],
        "clf__class_weight": [None, "balanced"],
    }
    # --param wins over the file
    grid = build_param_grid(["epochs=3", "hidden_units=64,128"], path)
    assert grid["clf__epochs"] == [3]
    assert grid["clf__hidden_units"] == [64, 128]

    (tmp_path / "bad.toml").write_text("hidden_units = [50,\n")
    with pytest.raises(ParamGridError, match="not valid TOML"):
        load_grid_toml(tmp_path / "bad.toml")
    with pytest.raises(ParamGridError, match="does not exist"):
        load_grid_toml(tmp_path / "missing.toml")


def test_fixed_settings_alone_search_the_default_grid():
    assert build_param_grid() == default_param_grid()
    grid = build_param_grid(["epochs=2", "hidden_units=64"])
    assert grid == {**default_param_grid(), "clf__epochs": [2], "clf__hidden_units": [64]}
    assert build_param_grid(["hidden_units=50,100"]) == {"clf__hidden_units": [50, 100]}


def test_default_grid_is_exported_lazily_and_valid():
    import skdigits
    from skdigits import make_pipeline

    assert skdigits.default_param_grid is default_param_grid
    assert check_param_grid(make_pipeline(), skdigits.default_param_grid()) == 12


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"clf__hidden_unit": [50]}, "unknown parameter"),
        ({"clf__hidden_units": [0]}, "hidden_units"),
        ({"clf__output_activation": ["tanh"]}, "output_activation"),
        ({"clf__epochs": [1.5]}, "epochs"),
        ({"clf__batch_size": []}, "non-empty list"),
    ],
)
def test_bad_grids_fail_before_any_fit(grid, message):
    from skdigits import make_pipeline

    with pytest.raises(ParamGridError, match=message):
        check_param_grid(make_pipeline(), grid)


def test_candidates_are_counted_without_building_any():
    assert count_candidates({"a": [1, 2], "b": [1, 2, 3]}) == 6
    assert count_candidates([{"a": [1, 2]}, {"b": [1, 2, 3]}]) == 5  # a list of grids: summed
    assert count_candidates({"a": np.arange(4)}) == 4
    thousand = list(range(1000))
    with pytest.raises(
        ParamGridError, match=r"holds 1,000,000,000 candidates, more than the 10,000"
    ):
        count_candidates({"a": thousand, "b": thousand, "c": thousand})
    # Past 10^15 the order of magnitude is named, and counting stops at the bound.
    with pytest.raises(ParamGridError, match=r"about 10\^300 candidates"):
        count_candidates({f"p{i}": thousand for i in range(100)})
    with pytest.raises(ParamGridError, match="more than the 10,000"):
        count_candidates([{"a": [1]}] * (MAX_CANDIDATES + 1))
    for bad in ("a=1", 7, [3], {"a": "values"}, {"a": {}}):
        with pytest.raises(ParamGridError, match=r"dict of lists|non-empty list"):
            count_candidates(bad)


def test_search_size_bounds_folds_and_fits():
    check_search_size(10_000, 10)
    with pytest.raises(ParamGridError, match="cv=101 folds is more than the 100"):
        check_search_size(1, 101)
    with pytest.raises(ParamGridError, match=r"10,000 candidates x 11 folds = 110,000 fits"):
        check_search_size(10_000, 11)


def test_a_billion_candidates_are_refused_at_once_from_python():
    """check_param_grid counts before it clones: 0.35 ms a candidate was four days."""
    import time

    from skdigits import make_pipeline

    thousand = list(range(1, 1001))
    grid = {f"clf__{k}": thousand for k in ("hidden_units", "batch_size", "epochs")}
    start = time.perf_counter()
    with pytest.raises(ParamGridError, match="1,000,000,000 candidates"):
        check_param_grid(make_pipeline(), grid)
    assert time.perf_counter() - start < 1
    with pytest.raises(ParamGridError, match=r"cv=200 folds is more than the 100"):
        check_param_grid(make_pipeline(), default_param_grid(), n_splits=200)


@pytest.mark.parametrize("rate", [float("nan"), float("inf"), -1.0, 0.0])
def test_learning_rates_the_table_refuses_fail_before_any_fit(rate):
    from skdigits import make_pipeline

    grid = {"clf__optimizer__learning_rate": [1e-3, rate], "clf__hidden_units": [50, 100]}
    with pytest.raises(ParamGridError, match=r"invalid candidate .*`optimizer__learning_rate`"):
        check_param_grid(make_pipeline(), grid)


def test_ten_thousand_candidates_are_judged_by_the_table_within_seconds():
    """The bound's worst case: each candidate judged as a dict, no clone per candidate."""
    import time

    from skdigits import make_pipeline

    grid = {"clf__hidden_units": list(range(1, 101)), "clf__batch_size": list(range(1, 101))}
    start = time.perf_counter()
    assert check_param_grid(make_pipeline(), grid) == 10_000
    assert time.perf_counter() - start < 3


def test_other_steps_and_other_estimators_are_checked_too():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from skdigits import PixelScaler, make_pipeline

    assert (
        check_param_grid(make_pipeline(), [{"clf__hidden_units": [5]}, {"clf__epochs": [1, 2]}])
        == 3
    )
    with pytest.raises(ParamGridError, match="unknown parameter `scale__nope`"):
        check_param_grid(make_pipeline(), {"scale__nope": [1]})
    plain = Pipeline([("scale", PixelScaler()), ("lr", LogisticRegression())])
    assert check_param_grid(plain, {"lr__C": [0.1, 1.0]}) == 2
    with pytest.raises(ParamGridError, match=r"invalid candidate \{lr__C=-1\.0\}"):
        check_param_grid(plain, {"lr__C": [1.0, -1.0]})


# --- searches from Python ---------------------------------------------------------------------


def test_grid_search_n_jobs_2_on_mnist(local_search, data, mnist):
    search = local_search
    assert search.best_params_ == {"clf__optimizer__learning_rate": 1e-2}
    results = search.cv_results_
    assert list(results["param_clf__optimizer__learning_rate"]) == [1e-3, 1e-2]
    assert results["mean_test_score"][1] > results["mean_test_score"][0] > 0.2
    # refit=True: the best pipeline is fitted on all the data and predicts digits
    _, _, X_test, y_test = mnist
    assert search.best_estimator_[-1].optimizer__learning_rate == 1e-2
    assert search.score(X_test[:500], y_test[:500]) > 0.6


def test_repeated_search_gives_identical_cv_results(local_search, data):
    from sklearn.model_selection import GridSearchCV

    pipe, cv = _search_parts()
    again = GridSearchCV(pipe, GRID, cv=cv, n_jobs=2, refit=False).fit(*data)
    for key in ("mean_test_score", "std_test_score", "split0_test_score", "split1_test_score"):
        np.testing.assert_array_equal(again.cv_results_[key], local_search.cv_results_[key])


def test_search_progress_is_a_scikit_learn_callback(local_search, data, capsys):
    """One line per finished fit, through GridSearchCV.set_callbacks; results unchanged."""
    from sklearn.model_selection import GridSearchCV

    from skdigits.analysis._search import SearchProgress

    pipe, cv = _search_parts()
    search = GridSearchCV(pipe, GRID, cv=cv, n_jobs=1).set_callbacks(SearchProgress())
    search.fit(*data)
    np.testing.assert_array_equal(
        search.cv_results_["mean_test_score"], local_search.cv_results_["mean_test_score"]
    )
    lines = capsys.readouterr().out.splitlines()
    fits = [line for line in lines if line.startswith("[fit ")]
    assert [line.split("]")[0] for line in fits] == ["[fit 1/4", "[fit 2/4", "[fit 3/4", "[fit 4/4"]
    assert "optimizer__learning_rate=0.001, fold 2/2 done" in fits[1]
    assert "optimizer__learning_rate=0.01, fold 1/2 done" in fits[2]
    assert lines[-1].startswith("refitted the best candidate")
    assert pickle.loads(pickle.dumps(search)).best_params_ == local_search.best_params_


def test_randomized_search_and_cross_validate_route_parameters(data):
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV, cross_validate

    pipe, cv = _search_parts()
    distributions = {
        "clf__hidden_units": [32, 64],
        "clf__batch_size": [64, 128],
        "clf__output_activation": ["softmax", "sigmoid"],
        "clf__optimizer__learning_rate": loguniform(1e-3, 1e-2),
    }
    search = RandomizedSearchCV(
        pipe, distributions, n_iter=2, cv=cv, n_jobs=2, random_state=0, refit=False
    ).fit(*data)
    assert len(search.cv_results_["params"]) == 2
    assert all(set(p) == set(distributions) for p in search.cv_results_["params"])
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()

    routed = pipe.set_params(clf__hidden_units=32, clf__batch_size=64)
    result = cross_validate(routed, *data, cv=cv, n_jobs=2, return_estimator=True)
    assert len(result["test_score"]) == 2
    for fitted in result["estimator"]:  # fitted in the workers and sent back
        assert fitted[-1].model_.get_layer("hidden").units == 32


def test_tensorflow_in_joblib_workers_gets_the_thread_limit(local_search):
    """joblib sets OMP_NUM_THREADS = cpu_count // n_jobs in its workers; TensorFlow follows."""
    from joblib import Parallel, cpu_count, delayed

    def worker_threads():
        from skdigits.nn._tf import import_keras

        import_keras()
        return os.environ.get("OMP_NUM_THREADS"), os.environ.get("TF_NUM_INTRAOP_THREADS")

    expected = str(max(1, cpu_count() // 2))
    for omp, intra in Parallel(n_jobs=2)(delayed(worker_threads)() for _ in range(2)):
        assert omp == expected
        assert intra == expected


def test_thread_limit_rules(monkeypatch):
    from skdigits.nn._tf import size_thread_pools_from_env

    for var in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(var, raising=False)
    size_thread_pools_from_env()
    assert "TF_NUM_INTRAOP_THREADS" not in os.environ  # no limit asked for: none set

    monkeypatch.setenv("OMP_NUM_THREADS", "4")
    size_thread_pools_from_env()
    assert (os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"]) == (
        "4",
        "2",
    )

    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "3")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    size_thread_pools_from_env()
    assert os.environ["TF_NUM_INTRAOP_THREADS"] == "3"  # an explicit setting wins


def test_dask_local_cluster_finds_the_same_best(local_search, data):
    from sklearn.model_selection import GridSearchCV

    from skdigits.analysis._search import dask_backend

    pipe, cv = _search_parts()
    search = GridSearchCV(pipe, GRID, cv=cv, n_jobs=-1, refit=False)
    with dask_backend(n_workers=2, threads_per_worker=1) as client:
        assert client.scheduler.address.startswith("tcp://127.0.0.1:")
        workers = client.scheduler_info()["workers"]
        assert len(workers) == 2
        assert all(addr.startswith("tcp://127.0.0.1:") for addr in workers)
        search.fit(*data)
    assert client.status == "closed"
    assert search.best_params_ == local_search.best_params_, (
        search.cv_results_["mean_test_score"],
        local_search.cv_results_["mean_test_score"],
    )
    # Same folds, same seeds, same thread counts (one per worker on both backends):
    # the scores agree to the bit on this machine; allow for rounding elsewhere.
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        local_search.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-6,
    )


def test_dask_backend_reports_an_unreachable_scheduler():
    from skdigits import SkdigitsError
    from skdigits.analysis._search import dask_backend

    with (
        pytest.raises(SkdigitsError, match="cannot connect to the Dask scheduler"),
        dask_backend("tcp://127.0.0.1:9", timeout=2),
    ):
        pass


# --- results --------------------------------------------------------------------------------


def test_results_table_and_csv(local_search):
    table = format_results(local_search.cv_results_, score_name="accuracy").splitlines()
    assert table[0].split() == [
        "rank",
        "mean",
        "accuracy",
        "std",
        "fit",
        "s",
        "optimizer__learning_rate",
    ]
    assert table[1].split()[0] == "1"
    assert table[1].split()[-1] == "0.01"  # sorted by mean score, best first
    rows = list(csv.DictReader(results_to_csv(local_search.cv_results_).splitlines()))
    assert len(rows) == 2
    assert [float(r["mean_test_score"]) for r in rows] == list(
        local_search.cv_results_["mean_test_score"]
    )
    assert json.loads(rows[1]["params"]) == {"clf__optimizer__learning_rate": 0.01}


# --- the command line -----------------------------------------------------------------------


def test_cli_search_end_to_end(local_search, tmp_path, capsys):
    from skdigits.cli.main import main
    from skdigits.estimator._saving import load_metadata, load_model

    out = tmp_path / "best.skdigits"
    argv = [
        "search",
        *SMALL_GRID,
        "--n-jobs",
        "2",
        "--random-state",
        "0",
        "-o",
        str(out),
        "--json",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert "searching 2 candidates x 2 folds = 4 fits on 600 MNIST images" in lines[0]
    # The progress lines come from the two worker processes, outside capsys' reach.
    table_head = next(i for i, line in enumerate(lines) if line.startswith("rank"))
    assert lines[table_head + 1].split()[0] == "1"

    summary = json.loads(lines[-1])
    assert summary["best_params"] == {
        "clf__epochs": 1,
        **local_search.best_params_,
    }
    assert summary["best_score"] == pytest.approx(local_search.best_score_, abs=1e-6)

    rows = list(csv.DictReader((tmp_path / "best.cv_results.csv").open()))
    assert [r["param_clf__optimizer__learning_rate"] for r in rows] == ["0.001", "0.01"]
    assert [r["rank_test_score"] for r in rows] == ["2", "1"]
    np.testing.assert_allclose(
        [float(r["mean_test_score"]) for r in rows],
        local_search.cv_results_["mean_test_score"],
        atol=1e-6,
    )

    meta = load_metadata(out)
    assert meta["metadata"]["search"]["best_params"] == summary["best_params"]
    assert meta["metadata"]["metrics"]["test_accuracy"] == summary["test_accuracy"]
    best = load_model(out)
    assert best[-1].optimizer__learning_rate == 0.01
    assert best[-1].epochs == 1

    # `skdigits export` takes the saved best pipeline as it is
    assert (
        main(["export", str(out), "-o", str(tmp_path / "best.onnx"), "--check-images", "200"]) == 0
    )
    assert (tmp_path / "best.onnx").stat().st_size > 0
    capsys.readouterr()

    # outputs are never overwritten without --force
    before = out.read_bytes()
    assert main(argv) == 1
    assert "already exists; pass --force" in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--param", "hidden_units"], "no '='"),
        (["--param", "hidden_unit=5,6"], "unknown parameter"),
        (["--cv", "1"], "--cv must be 2 to 100 folds"),
        (["--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --backend dask"),
        (["--scoring", "acuracy"], "not a scikit-learn scorer"),
    ],
)
def test_cli_search_errors_are_one_line(tmp_path, capsys, args, message):
    from skdigits.cli.main import main

    assert main(["search", "-o", str(tmp_path / "m.skdigits"), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("skdigits: error: ")
    assert err.count("\n") == 1
    assert message in err


def test_cli_search_on_dask_is_quiet(local_search, tmp_path):
    """The whole command in a fresh interpreter: no TensorFlow or Dask log on stderr."""
    out = tmp_path / "best.skdigits"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "skdigits",
            "search",
            "--backend",
            "dask",
            *SMALL_GRID,
            "-o",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=os.environ.copy(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "a local Dask cluster of 2 workers" in proc.stdout
    # The progress callback runs in the Dask workers, which share this stdout.
    assert sum(line.startswith("[fit ") for line in proc.stdout.splitlines()) == 4
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["best_params"] == {"clf__epochs": 1, **local_search.best_params_}
    assert out.exists()
