# The two commands a new user needs: `make demo` and `make test`. Both create .venv and install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# A CPU build of torch, installed before anything that depends on torch can pull a CUDA build.
TORCH  ?= torch==2.13.0
OUT    ?= results

.PHONY: install demo test lint bench browser clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/cellsim calibrate tr38901-uma-6ghz --plot $(OUT)/calibration-tr38901-uma-6ghz.png
	$(BIN)/cellsim demo --scenario hex7 --out $(OUT)/demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -n 2 -q

# Chromium for the headless-browser test of `cellsim report` (Debian/Ubuntu, as root).
browser:
	command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		(apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

bench: $(STAMP)
	$(BIN)/cellsim bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
