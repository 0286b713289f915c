"""`nbgrader validate`, which students may run from JupyterLab, agrees with the visible checks."""


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


@pytest.mark.parametrize("student", ["correct", "original_post", "flipped_kernel"])
def test_validate_gives_the_verdict_of_the_visible_checks(submissions, student):
    """The graded cells validate reports failing are the ones whose visible checks fail (test_notebooks_run.py runs
    the notebooks themselves)."""
    verdicts = set()
    for notebook_path in sorted((submissions / student).glob("0[12]_*.ipynb")):  # 03's verdict: test_network.py
        verdicts |= failing_grade_ids_by_validate(notebook_path)  # 04 runs its teaching cells: test_notebooks_run.py
    assert verdicts == sample_class.EXPECTED_FAILURES[student] - {sample_class.TRAINING_TEST} - sample_class.ALL_STACKING
