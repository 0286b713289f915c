# Two commands: `make demo` (the kit's main job: grade a sample class) and `make test` (the whole suite).
# Instructors give students `make handout`'s zip and grade with `make grade SUBMISSIONS=...`;
# `make lab` tries the student notebooks in a working copy of the hand-out (build/lab).
# Every target creates .venv from requirements.txt when it is missing or older than requirements.txt.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
READY := $(VENV)/.ready
# nbgrader runs helper programs (alembic) that it expects on PATH.
export PATH := $(CURDIR)/$(BIN):$(PATH)
# GRADEBOOK=postgresql://user@host/database keeps the gradebook in that database, for every command (grade, reports,
# formgrader, release); without it, nbgrader's SQLite file autograder/gradebook.db.
ifdef GRADEBOOK
export CNNKIT_GRADEBOOK := $(GRADEBOOK)
endif

.PHONY: lab handout test release grade reports demo hidden benchmark formgrader clean

DEMO_CLASS := build/demo-class

$(READY): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(READY)

## handout: what students get, build/handout/ and build/cnn-course-handout.zip (notebooks, cnnkit, make lab/check)
handout: $(READY)
	$(BIN)/python -m autograder.handout

## lab: JupyterLab as a student sees it, on build/lab/ (a working copy of the hand-out whose notebooks are kept)
lab: $(READY)
	$(BIN)/python -m autograder.handout --working-copy build/lab
	$(MAKE) --no-print-directory -C build/lab lab VENV=$(CURDIR)/$(VENV) LAB_ARGS="$(LAB_ARGS)"

## formgrader: JupyterLab in the course folder autograder/, for the formgrader (add LAB_ARGS=--allow-root as root)
formgrader: $(READY)
	cd autograder && JUPYTER_CONFIG_PATH=$(CURDIR)/autograder/jupyter-config $(CURDIR)/$(BIN)/jupyter lab $(LAB_ARGS)

## test: the whole suite (reference vs oracle, checks, release sync, the notebooks run, nbval on the student ones)
test: $(READY)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## release: regenerate notebooks/ from solutions/ with nbgrader
release: $(READY)
	$(BIN)/python -m autograder.release

## grade: grade every new or changed submission of SUBMISSIONS (a folder <student_id>/<notebook>.ipynb, or an LMS
## zip); FORCE=1 grades every student again (manual scores are kept either way); SCHEDULER=tcp://host:8786 grades on
## that Dask cluster (ALLOW_UNSANDBOXED=1 lets workers without bubblewrap grade, with limits only)
grade: $(READY)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder-or-zip [FORCE=1] [SCHEDULER=tcp://host:8786] [GRADEBOOK=postgresql://...]"; exit 2; }
	$(BIN)/python -m autograder.grade "$(SUBMISSIONS)" $(if $(FORCE),--force) $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") $(if $(ALLOW_UNSANDBOXED),--allow-unsandboxed)

## reports: the class's reports from the gradebook, for every student graded on any path (make grade, or nbgrader's
## autograde: its command line or the formgrader's Autograde button), e.g. after autograding a late student
reports: $(READY)
	$(BIN)/python -m autograder.gradebook_reports

## demo: build a sample class (correct, untouched, original post, typical mistakes) and grade it
demo: $(READY)
	$(BIN)/python -m autograder.sample_class $(DEMO_CLASS)
	$(MAKE) --no-print-directory grade SUBMISSIONS=$(DEMO_CLASS)

## hidden: regenerate the hidden test cases (HIDDEN_SEED=... for a course's private seed)
hidden: $(READY)
	$(BIN)/python -m autograder.hidden_cases $(if $(HIDDEN_SEED),--seed $(HIDDEN_SEED))

## benchmark: seconds per submission: plain `nbgrader autograde`, `make grade` with 1 worker, 1 per core and 1 Dask
## worker per core through a scheduler, a re-run after a late submission, seconds per stage
## (BENCHMARK_ARGS="--students N --baseline OTHER_CHECKOUT"); then notebook 04's speed table (loop, vectorised, SciPy, PyTorch)
benchmark: $(READY)
	$(BIN)/python -m autograder.benchmark $(BENCHMARK_ARGS)

clean:
	rm -rf $(VENV) build autograder/source autograder/release autograder/submitted autograder/autograded \
		autograder/feedback autograder/gradebook.db autograder/reports autograder/downloaded autograder/collected \
		.pytest_cache .hypothesis
