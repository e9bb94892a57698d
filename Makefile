# Chromaluma — the two commands that matter: `make demo` and `make test`. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(abspath $(VENV))/bin/python
BUILD_DIR ?= build
JOBS ?= 2
ORT_FLAVOUR := $(shell scripts/ort_flavour.sh)
INSTALL_STAMP := $(VENV)/.chromaluma-installed-$(ORT_FLAVOUR)

.PHONY: venv system-deps build test test-py test-cpp test-fast lint demo bench install-plugin clean

## venv: Python environment in .venv with Chromaluma (editable), ONNX Runtime, torch 2.13.0 (CPU) and build tools
venv: $(INSTALL_STAMP)
$(INSTALL_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "error: python3 >= 3.10 needed (found " + sys.version.split()[0] + "); set PYTHON=python3.X")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[$(ORT_FLAVOUR),train,build,dev]"
	$(PY) -c "import onnxruntime, torch, OpenImageIO, av, cv2; print('environment ready: onnxruntime', onnxruntime.__version__, onnxruntime.get_available_providers(), '| torch', torch.__version__)"
	touch $@

system-deps:
	@scripts/system_deps.sh

## build: the OpenFX plug-in bundle and the ofx-render test host, against .venv's Python and pybind11
build: venv system-deps
	mkdir -p $(BUILD_DIR)
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DPython_EXECUTABLE=$(PY) \
	  -Dpybind11_DIR="$$($(PY) -m pybind11 --cmakedir)" -Wno-dev > $(BUILD_DIR)/configure.log \
	  || { cat $(BUILD_DIR)/configure.log; exit 1; }
	cmake --build $(BUILD_DIR) -j $(JOBS)

lint: venv
	$(PY) -m ruff check pybackend tests scripts

test-py: build
	$(PY) -m pytest -q

test-cpp: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure --no-tests=error

## test: everything, slow tests included (CI runs exactly this)
test: build lint test-cpp test-py

## test-fast: skips tests marked slow (for the edit-test loop; CI runs `make test`)
test-fast: build
	$(PY) -m pytest -q -m "not slow"

## demo: the main job on the bundled default, writes demo/before_after.png
demo: build
	$(PY) scripts/demo.py --out demo

## bench: speed and quality benchmarks; writes BENCHMARKS.md
bench: build
	$(PY) scripts/bench.py --out BENCHMARKS.md

install-plugin: build
	scripts/install_plugin.sh $(BUILD_DIR) $(PY)

clean:
	rm -rf $(BUILD_DIR) demo
