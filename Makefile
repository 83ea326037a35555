# Every command in README.md is a target here.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: setup setup-train demo test train export evaluate bench

$(BIN)/moodbox: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

setup: $(BIN)/moodbox

setup-train: setup
	$(BIN)/pip install --quiet -e '.[dev,train]'

test: setup
	$(BIN)/ruff check device tools tests
	$(BIN)/ruff format --check device tools tests
	$(BIN)/mypy device
	$(BIN)/pytest -q

train: setup-train
	$(BIN)/python tools/train.py --out runs/main

export: setup-train
	$(BIN)/python tools/export.py --run runs/main

evaluate: setup
	$(BIN)/python tools/evaluate.py --model models/emotion.tflite

bench: setup
	$(BIN)/python tools/bench.py face
	$(BIN)/python tools/bench.py pipeline

demo: setup
	$(BIN)/moodbox classify --whole tests/fixtures/faces/*/*.png
