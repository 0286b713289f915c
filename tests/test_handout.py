"""The students' hand-out (`make handout`): exactly the student notebooks, the student package, a README, pinned
requirements and a small Makefile; no line of a solution, no code that computes an answer, no hidden case; and its
own `make check`, in a fresh virtual environment, tells an untouched, a wrong and a correct submission apart."""

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from autograder import handout, sample_class
from autograder.hidden_cases import HIDDEN_CASES
from autograder.runner.hidden_tests import KERNEL_CASES
from grading_helpers import POINTS
from notebook_cells import read, region_lines
from reference import NOTEBOOKS, REPO, SOLUTIONS

NOTEBOOK_NAMES = ["01_convolution.ipynb", "02_max_pooling.ipynb", "03_training.ipynb", "04_layers_that_stack.ipynb"]
TESTS = sum(len(cells) for cells in POINTS.values())  # the graded tests, and their points in all
TOTAL = sum(points for cells in POINTS.values() for points in cells.values())
INSTRUCTOR_MODULES = [REPO / "autograder" / name for name in ("oracle.py", "cases.py", "mistakes.py",
                                                               "worked_examples.py")]
INSTRUCTOR_FILES = {"oracle.py", "cases.py", "mistakes.py", "harvest.py", "hidden_tests.py", "verdict.py", "grade.py",
                    "kernel_cases.npz", "cases.npz"}
GENERIC_LINES = {"rng = np.random.default_rng(seed)"}  # in instructor code and in the student package alike


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(hand-out folder, zip path), built into a temporary folder."""
    folder = tmp_path_factory.mktemp("handout") / "handout"
    return folder, handout.build(folder)


def files(folder):
    return {path.relative_to(folder).as_posix(): path for path in sorted(folder.rglob("*")) if path.is_file()}


def text_files(folder):
    return {name: path.read_text() for name, path in files(folder).items() if path.suffix != ".npz"}


def test_the_hand_out_holds_the_notebooks_the_student_package_and_its_own_commands_only(built):
    folder, _ = built
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        NOTEBOOK_NAMES + ["README.md", "Makefile", "requirements.txt", "cnnkit", "jupyter-config"])
    package = {name for name in files(folder) if name.startswith("cnnkit/")}
    in_repo = {f"cnnkit/{path.relative_to(REPO / 'cnnkit').as_posix()}" for path in (REPO / "cnnkit").rglob("*")
               if path.is_file() and "__pycache__" not in path.parts}
    assert package == in_repo  # what grading mounts beside the student's code is what the student got
    for name in NOTEBOOK_NAMES:
        assert (folder / name).read_bytes() == (NOTEBOOKS / name).read_bytes()
    assert not INSTRUCTOR_FILES & {Path(name).name for name in files(folder)}


def test_the_zip_holds_the_same_files_in_one_folder(built):
    folder, zip_path = built
    with zipfile.ZipFile(zip_path) as archive:
        zipped = {name: archive.read(name) for name in archive.namelist() if not name.endswith("/")}
    assert zipped == {f"{handout.ZIP_NAME}/{name}": path.read_bytes() for name, path in files(folder).items()}


def test_the_requirements_are_the_repositorys_pins_without_the_grading_and_test_tools(built):
    folder, _ = built
    pins = [line for line in (folder / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    repository = (REPO / "requirements.txt").read_text().splitlines()
    assert pins and all("==" in pin and pin in repository for pin in pins)
    names = {pin.split("==")[0] for pin in pins}
    assert {"numpy", "scipy", "seaborn", "jupyterlab", "nbgrader", "nbclient"} <= names
    assert not names & {"pytest", "nbval", "hypothesis", "playwright", "scikit-learn", "dask", "distributed", "psycopg",
                        "nh3", "latex2mathml"}


def test_no_line_of_any_solution_region_is_in_the_hand_out(built):
    folder, zip_path = built
    solution_lines = {line.strip() for path in SOLUTIONS.glob("*.ipynb") for line in region_lines(read(path))}
    solution_lines = {line for line in solution_lines if len(line) >= 8 and not line.startswith("#")}
    assert len(solution_lines) >= 10
    shipped = {line.strip() for text in text_files(folder).values() for line in text.splitlines()}
    notebooks_text = "".join(text_files(folder)[name] for name in NOTEBOOK_NAMES)
    assert not solution_lines & shipped
    assert "BEGIN SOLUTION" not in notebooks_text and "BEGIN HIDDEN TESTS" not in notebooks_text
    with zipfile.ZipFile(zip_path) as archive:
        assert not any(line.encode() in archive.read(name) for name in archive.namelist() if name.endswith(".py")
                       for line in solution_lines)


def _functions(path):
    tree = ast.parse(path.read_text())
    return [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]


def test_no_oracle_case_generating_or_mistake_function_is_in_the_hand_out(built):
    folder, _ = built
    sources = {name: text for name, text in text_files(folder).items() if name.endswith(".py")}
    defined = {node.name for source in sources.values() for node in ast.walk(ast.parse(source))
               if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    instructor = {node.name for path in INSTRUCTOR_MODULES for node in _functions(path)}
    assert {"conv_forward", "conv_weight_grad", "maxpool_forward", "maxpool_backward", "generate",
            "signatures"} <= instructor
    assert not instructor & defined
    body_lines = {line.strip() for path in INSTRUCTOR_MODULES for node in _functions(path)
                  for line in ast.get_source_segment(path.read_text(), node).splitlines()[1:]}
    body_lines = {line for line in body_lines
                  if len(line) >= 30 and not line.startswith(("#", '"""', "return {")) and line not in GENERIC_LINES}
    shipped = {line.strip() for source in sources.values() for line in source.splitlines()}
    assert not body_lines & shipped
    for name, source in sources.items():  # the student package stands alone: it imports nothing of the grader's
        imported = {alias.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Import)
                    for alias in node.names} | {node.module or "" for node in ast.walk(ast.parse(source))
                                                if isinstance(node, ast.ImportFrom)}
        assert not {module for module in imported if module.split(".")[0] in {"autograder", "scipy"}}, name


def test_no_hidden_or_kernel_case_is_in_the_hand_out(built):
    folder, _ = built
    secret = []
    for path in (HIDDEN_CASES, KERNEL_CASES):
        with np.load(path, allow_pickle=False) as data:
            secret += [data[key] for key in data.files if data[key].size > 4]
    shipped = []
    for path in files(folder).values():
        if path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as data:
                shipped += [data[key] for key in data.files]
    assert len(secret) > 50 and len(shipped) > 50
    assert not any(a.shape == b.shape and np.array_equal(a, b) for a in secret for b in shipped)


# ---- the hand-out's own `make check`, in a fresh virtual environment ----------------------------------------

def make_check(folder):
    """(exit status, output lines) of `make check` in the hand-out folder."""
    environment = {**os.environ, "PYTHON": sys._base_executable}
    environment.pop("VIRTUAL_ENV", None)
    # As on a student's machine, Python keeps the bytecode of what it imports: the hand-out installs without compiling
    # (--no-compile), and with this machine's PYTHONDONTWRITEBYTECODE every kernel would compile its imports again
    # (16 s of CPU per make check instead of 8).
    environment.pop("PYTHONDONTWRITEBYTECODE", None)
    process = subprocess.run(["make", "--no-print-directory", "check"], cwd=folder, env=environment,
                             capture_output=True, text=True, timeout=1200)
    return process.returncode, process.stdout.splitlines()


def check_lines(lines):
    """{grade id: (PASS or FAIL, the rest of its line)}."""
    rows = [line.split(None, 2) for line in lines if line.startswith(("  PASS", "  FAIL"))]
    return {grade_id: (status, rest) for status, grade_id, rest in rows}


def test_make_check_in_a_fresh_environment_tells_untouched_and_correct_work_apart(built, tmp_path):
    _, zip_path = built
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(tmp_path)
    folder = tmp_path / handout.ZIP_NAME

    status, lines = make_check(folder)
    assert (folder / ".venv" / "bin" / "python").exists()
    checks = check_lines(lines)
    assert status != 0 and len(checks) == TESTS and all(result == "FAIL" for result, _ in checks.values())
    stubs = [grade_id for grade_id, (_, rest) in checks.items() if grade_id != "cnn_test_accuracy"]
    assert all("NotImplementedError: Your code here" in checks[grade_id][1] for grade_id in stubs)
    assert "LayersNotReadyError" in checks["cnn_test_accuracy"][1]
    assert lines[-1].startswith(f"0 of {TESTS} checks pass (0 of {TOTAL:g} points")

    # (A mistake's diagnosis in the checks' messages: test_checks.py; in the feedback: test_grading_pipeline.py.)
    sample_class.fill_in(folder, "correct")
    status, lines = make_check(folder)
    checks = check_lines(lines)
    assert status == 0 and all(result == "PASS" for result, _ in checks.values()), lines
    assert lines[-1].startswith(f"{TESTS} of {TESTS} checks pass ({TOTAL:g} of {TOTAL:g} points")
