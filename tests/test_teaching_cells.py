"""The cells that only teach, which grading does not run (autograder/teaching_cells.py).

The tags in solutions/ decide; nothing graded may depend on a tagged cell; a student's code that reads a name such
a cell binds still gets it run; a student cannot make grading skip their own code by tagging it.
"""

import ast

import nbformat
import pytest

import notebook_cells as cells
from autograder import teaching_cells
from autograder.release import SOLUTIONS
from autograder.sample_class import solution_cell
from cnnkit.notebook_loader import TEACHING_TAG, _names_bound, _names_used

NOTEBOOKS = sorted(path.stem for path in SOLUTIONS.glob("*.ipynb"))


def tagged(cell):
    return TEACHING_TAG in cell.metadata.get("tags", [])


def names(cell, of):
    tree = ast.parse("\n".join("" if line.lstrip().startswith(("%", "!")) else line
                               for line in cell.source.splitlines()))
    return set().union(*(of(node) for node in tree.body))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_only_the_kits_own_cells_are_tagged_and_every_notebook_has_some(notebook):
    reference = cells.read(SOLUTIONS / f"{notebook}.ipynb")
    teaching = [cell for cell in reference.cells if tagged(cell)]
    assert teaching, f"{notebook}: no cell is tagged {TEACHING_TAG!r}: grading runs every figure"
    for cell in teaching:
        meta = cell.metadata.nbgrader
        assert cell.cell_type == "code" and meta["locked"] and not meta["solution"] and not meta["grade"], \
            f"{notebook}: {meta['grade_id']} is tagged {TEACHING_TAG!r}, but only the kit's own cells may be"


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_no_cell_that_grading_runs_reads_a_name_that_a_teaching_cell_binds(notebook):
    reference = cells.read(SOLUTIONS / f"{notebook}.ipynb")
    bound_by_teaching = {}
    for cell in reference.cells:
        if cell.cell_type != "code":
            continue
        if tagged(cell):
            bound_by_teaching.update({name: cells.grade_id(cell) for name in names(cell, _names_bound)})
            continue
        for name in names(cell, _names_bound):  # bound again by a cell that runs: no longer the teaching cell's
            bound_by_teaching.pop(name, None)
        read = names(cell, _names_used) & set(bound_by_teaching)
        assert not read, (f"{notebook}: {cells.grade_id(cell)} reads {sorted(read)}, bound by the teaching cell(s) "
                          f"{sorted({bound_by_teaching[name] for name in read})}: untag them, or bind the name in a "
                          "cell that grading runs")


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_grading_skips_exactly_the_tagged_cells_of_an_honest_submission(notebook):
    reference = cells.read(SOLUTIONS / f"{notebook}.ipynb")
    expected = {index for index, cell in enumerate(reference.cells) if tagged(cell)}
    assert teaching_cells.cells_to_skip(reference, notebook) == expected


def test_a_teaching_cell_runs_when_the_students_code_reads_a_name_it_binds():
    reference = cells.read(SOLUTIONS / "01_convolution.ipynb")
    (demo,) = [index for index, cell in enumerate(reference.cells) if cells.grade_id(cell) == "broadcasting_demo"]
    assert demo in teaching_cells.cells_to_skip(reference, "01_convolution")
    solution_cell(reference).source += "\nDEFAULT_FILTERS = filters  # bound by the broadcasting demo\n"
    assert demo not in teaching_cells.cells_to_skip(reference, "01_convolution")


def test_a_student_cannot_make_grading_skip_their_own_code_by_tagging_it():
    reference = cells.read(SOLUTIONS / "02_max_pooling.ipynb")
    solution_cell(reference).metadata["tags"] = [TEACHING_TAG]
    reference.cells.append(nbformat.v4.new_code_cell("print('mine')", metadata={"tags": [TEACHING_TAG]}))
    skipped = teaching_cells.cells_to_skip(reference, "02_max_pooling")
    assert all(cells.grade_id(reference.cells[index]) != "pool_layer" for index in skipped)
    assert len(reference.cells) - 1 not in skipped


def test_a_notebook_that_is_not_the_courses_skips_nothing():
    reference = cells.read(SOLUTIONS / "01_convolution.ipynb")
    assert teaching_cells.cells_to_skip(reference, "my_own_notebook") == set()


def test_make_check_leaves_out_the_teaching_cells_and_still_sees_every_check(tmp_path):
    from cnnkit import check_notebooks

    reference = cells.read(SOLUTIONS / "02_max_pooling.ipynb")
    (figure,) = [cell for cell in reference.cells if cells.grade_id(cell) == "pooling_figure"]
    figure.source = "import os\nos._exit(1)  # would end the kernel before any check"
    path = tmp_path / "02_max_pooling.ipynb"
    nbformat.write(reference, path)
    saved = path.read_bytes()
    lines = list(check_notebooks.check_notebook(path))
    assert [(grade_id, ok) for grade_id, _, ok, _ in lines] == [
        ("pool_views", True), ("pool_forward", True), ("pool_backward", True), ("pool_backward_ties", True)]
    assert path.read_bytes() == saved  # nothing written back
