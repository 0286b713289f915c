"""Executing the notebooks: the reference runs clean, the release fails exactly where it says it will,
and the original blog post's code, pasted into the class cells, fails the checks that expose its bugs."""

import pytest

import notebook_cells as cells
from autograder.sample_class import original_post_class
from reference import NOTEBOOKS, SOLUTIONS

NAMES = ["01_convolution.ipynb", "02_max_pooling.ipynb", "03_training.ipynb"]
# A stub raises NotImplementedError; 03 turns it into LayersNotReadyError (a subclass) with a clearer message.
EXPECTED_ERRORS = {"NotImplementedError", "LayersNotReadyError"}


# The reference notebooks' only run in the suite (nbval runs the student notebooks); 03's is in test_network.py, which
# also checks its outputs.
@pytest.mark.parametrize("name", [*NAMES[:2], "04_layers_that_stack.ipynb"])
def test_reference_notebook_runs_without_any_error(name):
    notebook = cells.read(SOLUTIONS / name)
    for cell in notebook.cells:  # nothing is allowed to fail in the reference, tagged or not
        cell.metadata.pop("tags", None)
    cells.execute(notebook, SOLUTIONS)


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_fails_only_in_marked_cells_and_only_for_missing_code(name):
    notebook = cells.execute(cells.read(NOTEBOOKS / name), NOTEBOOKS, allow_errors=True)
    errors = cells.errors_by_cell(notebook)
    marked = {index for index, cell in enumerate(notebook.cells) if cells.is_expected_to_fail(cell)}
    assert set(errors) == marked, "a cell fails without the raises-exception tag, or a tagged cell does not fail"
    assert {ename for _, ename, _ in errors.values()} <= EXPECTED_ERRORS


def run_with_pasted_class(name, class_name):
    """{grade_id: error message} of the graded cells that fail with the post's class pasted in (the cells that only
    teach are left out, as in grading: the student notebooks run them in the tests above)."""
    notebook = cells.read(NOTEBOOKS / name)
    (class_cell,) = [cell for cell in notebook.cells if cell.metadata.nbgrader.get("solution")]
    class_cell.source = original_post_class(class_name)
    cells.execute(notebook, NOTEBOOKS, allow_errors=True, teaching=False)
    return {grade: f"{ename}: {evalue}" for grade, ename, evalue in cells.errors_by_cell(notebook).values()
            if cells.is_graded(next(c for c in notebook.cells if cells.grade_id(c) == grade))}


def test_original_post_convolution_fails_the_stride_and_batch_of_one_checks():
    failed = run_with_pasted_class("01_convolution.ipynb", "Convolution2dLayer")
    assert set(failed) == {"conv_views", "conv_forward_strided", "conv_backward_strided", "conv_batch_of_one"}
    assert all(message.startswith("CheckFailed") for message in failed.values())
    assert "i // stride" in failed["conv_forward_strided"]
    assert "stride" in failed["conv_backward_strided"]
    assert "squeeze" in failed["conv_batch_of_one"]


def test_original_post_pooling_fails_the_tie_check():
    failed = run_with_pasted_class("02_max_pooling.ipynb", "MaxPooling2dLayer")
    assert set(failed) == {"pool_backward_ties"}
    assert "first maximum" in failed["pool_backward_ties"]
