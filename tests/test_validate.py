"""`nbgrader validate`, which students may run from JupyterLab, agrees with the visible checks."""

from pathlib import Path

import pytest
from nbgrader.validator import Validator

import notebook_cells as cells
from autograder import sample_class
from reference import NOTEBOOKS


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    return sample_class.build(root / "class", NOTEBOOKS)


def failing_grade_ids_by_validate(notebook_path):
    results = Validator().validate(str(notebook_path))
    notebook = cells.read(notebook_path)
    by_source = {cell.source.strip(): cells.grade_id(cell) for cell in notebook.cells}
    return {by_source[failed["source"]] for failed in results.get("failed", [])}


def failing_grade_ids_by_running(notebook_path):
    notebook = cells.execute(cells.read(notebook_path), Path(notebook_path).parent, allow_errors=True)
    return {grade for grade, _, _ in cells.errors_by_cell(notebook).values()
            if grade and cells.is_graded(next(c for c in notebook.cells if cells.grade_id(c) == grade))}


@pytest.mark.parametrize("student", ["correct", "original_post"])  # original_post fails checks in both notebooks
def test_validate_gives_the_verdict_of_the_visible_checks(submissions, student):
    verdicts = set()
    for notebook_path in sorted((submissions / student).glob("0[12]_*.ipynb")):  # 03's verdict: test_network.py
        by_validate = failing_grade_ids_by_validate(notebook_path)
        assert by_validate == failing_grade_ids_by_running(notebook_path), notebook_path.name
        verdicts |= by_validate
    assert verdicts == sample_class.EXPECTED_FAILURES[student] - {sample_class.TRAINING_TEST}
