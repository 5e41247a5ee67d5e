# Two commands on a fresh machine: `make run` chats with Stagecoach, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint check bench clean

$(BIN)/stagecoach: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/stagecoach
	$(BIN)/stagecoach run

test: $(BIN)/stagecoach
	$(BIN)/python -m pytest -q --durations=10

# Both read their settings from pyproject.toml; both must report nothing.
lint: $(BIN)/stagecoach
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
