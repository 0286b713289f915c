# Two commands for everyone: `make lab` (students) and `make test` (maintainers).
# Both create .venv from requirements.txt when it is missing or older than requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
# nbgrader runs helper programs (alembic) that it expects on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: lab test release clean

$(READY): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(READY)

## lab: open JupyterLab on the student notebooks
lab: $(READY)
	$(BIN)/jupyter lab --ServerApp.root_dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

## test: the whole suite (reference vs oracle, checks, release sync, nbval on both notebook sets)
test: $(READY)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## release: regenerate notebooks/ from solutions/ with nbgrader
release: $(READY)
	$(BIN)/python -m autograder.release

clean:
	rm -rf $(VENV) autograder/source autograder/release autograder/gradebook.db .pytest_cache .hypothesis
