# Two commands on a fresh machine: `make run` chats with Stagecoach, `make test` runs every test.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres lint check bench clean

$(BIN)/stagecoach: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

run: $(BIN)/stagecoach
	$(BIN)/stagecoach run

test: $(BIN)/stagecoach
	$(BIN)/python -m pytest -q -rs --durations=10

# The same, beside a PostgreSQL server of its own (installed from Debian's packages if absent):
# the store's tests then run on both backends.
test-postgres: $(BIN)/stagecoach
	.ci/postgres $(MAKE) test

# Both read their settings from pyproject.toml; both must report nothing.
lint: $(BIN)/stagecoach
	$(BIN)/ruff check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .mypy_cache .ruff_cache
