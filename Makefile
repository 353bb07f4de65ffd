# The two commands of the README: `make run` and `make test`. Both set up .venv first, from
# requirements.lock: every package pinned, with its hashes, for Python 3.11 or newer on any
# platform, the build backend included; Hallway itself then goes in on top, editable, with
# nothing more resolved. `make lock` rewrites the lock from pyproject.toml's ranges.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
# Where `make run` serves: `make run PORT=8080` (HOST=0.0.0.0 to be reached from the LAN).
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck pytest bench demo lock clean

$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The lock's inputs: the project with its dev extra, and the build backend pyproject.toml
# names (read here so it is written down once).
lock: $(STAMP)
	$(BIN)/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"], sep="\n")' \
	  | $(BIN)/uv pip compile pyproject.toml - --extra dev --universal --python-version 3.11 \
	    --generate-hashes --quiet --custom-compile-command "make lock" --output-file $(LOCK)

run: $(STAMP)
	$(BIN)/hallway serve --host $(HOST) --port $(PORT)

demo: $(STAMP)
	$(BIN)/hallway demo

lint: $(STAMP)
	$(BIN)/ruff check hallway tests bench tools
	$(BIN)/ruff format --check hallway tests bench tools

typecheck: $(STAMP)
	$(BIN)/mypy hallway tests bench tools

# pytest-xdist: the suite in parallel workers (`make test PYTEST_WORKERS=1` for one).
PYTEST_WORKERS ?= 2
pytest: $(STAMP)
	$(BIN)/pytest -n $(PYTEST_WORKERS)

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .venv-newest data .mypy_cache .pytest_cache .ruff_cache
