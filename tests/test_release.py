"""The student notebooks are what nbgrader makes of solutions/, and give nothing away."""

import inspect
import json
import re

import numpy as np
import pytest

import notebook_cells as cells
from autograder.release import generate_assignment, normalized, write_student_notebooks
from cnnkit.notebook_loader import load_classes
from reference import NOTEBOOKS, SOLUTIONS

NAMES = sorted(path.name for path in SOLUTIONS.glob("*.ipynb"))
HINT_LINES = re.compile(r"((?:^[ \t]*#(?!## END SOLUTION)[^\n]*\n)+)[ \t]*### BEGIN SOLUTION", re.M)


def hints(notebook):
    """The comment lines right above each solution region of the source notebook's class cells: the hints, one
    group per region (defined there only)."""
    return [group.splitlines() for cell in notebook.cells if cell.metadata.get("nbgrader", {}).get("solution")
            for group in HINT_LINES.findall(cell.source)]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory, course_copy):
    """The student notebooks generated afresh from solutions/ into a scratch course folder (by conftest.py's
    course_copy: nbgrader generated its course in this test run)."""
    root = tmp_path_factory.mktemp("course")
    write_student_notebooks(course_copy(root), root / "notebooks")
    return root / "notebooks"


EXERCISES = ["01_convolution.ipynb", "02_max_pooling.ipynb", "04_layers_that_stack.ipynb"]  # with code to write
CLASS_CELLS = {"01_convolution.ipynb": 1, "02_max_pooling.ipynb": 1, "04_layers_that_stack.ipynb": 3}


def test_the_four_notebooks_exist_in_both_versions():
    assert NAMES == sorted([*EXERCISES, "03_training.ipynb"])
    assert sorted(path.name for path in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_student_notebook_is_in_sync_with_its_solution(regenerated, name):
    fresh = json.dumps(normalized(cells.read(regenerated / name)), sort_keys=True, indent=1).splitlines()
    committed = json.dumps(normalized(cells.read(NOTEBOOKS / name)), sort_keys=True, indent=1).splitlines()
    assert committed == fresh, f"notebooks/{name} is not what solutions/{name} generates: run `make release`"


@pytest.mark.parametrize("name", NAMES)
def test_source_notebook_is_clean(name):
    """No outputs or execution counts in git: diffs stay readable and nothing stale is shown."""
    for cell in cells.read(SOLUTIONS / name).cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"cell {cells.grade_id(cell)} has outputs"


@pytest.mark.parametrize("name", EXERCISES)
def test_student_notebook_holds_no_solution_and_no_hidden_test(name):
    source = cells.read(SOLUTIONS / name)
    student = cells.read(NOTEBOOKS / name)
    text = "\n".join(cell.source for cell in student.cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    outside = {line.strip() for line in "\n".join(
        cells.HIDDEN_REGION.sub("", cells.SOLUTION_REGION.sub("", cell.source)) for cell in source.cells).splitlines()}
    secret = (cells.region_lines(source) | cells.region_lines(source, cells.HIDDEN_REGION)) - outside
    assert cells.region_lines(source), "the source notebook has no solution region"
    student_lines = {line.strip() for line in text.splitlines()}
    leaked = sorted(secret & student_lines)
    assert not leaked, f"solution or hidden-test lines in notebooks/{name}: {leaked}"


@pytest.mark.parametrize("name", EXERCISES)
def test_hints_above_each_region_stay_visible(name):
    text = "\n".join(cell.source for cell in cells.read(NOTEBOOKS / name).cells)
    groups = hints(cells.read(SOLUTIONS / name))
    regions = sum(len(cells.SOLUTION_REGION.findall(cell.source)) for cell in cells.read(SOLUTIONS / name).cells)
    assert len(groups) == regions == text.count("raise NotImplementedError") >= 3  # a hint and a stub per region
    for line in (line for group in groups for line in group):
        assert line in text, f"notebooks/{name} lost the hint {line.strip()!r}: run `make release`"


@pytest.mark.parametrize("name, class_name, args", [
    ("01_convolution.ipynb", "Convolution2dLayer", dict(filter_size=2, stride=2, n_outchannel=3)),
    ("02_max_pooling.ipynb", "MaxPooling2dLayer", dict(filter_size=2)),
])
def test_every_stub_fails_loudly_and_the_generator_stays_a_generator(name, class_name, args):
    layer = load_classes(NOTEBOOKS / name, class_name)[class_name](**args)
    x = np.zeros((2, 1, 5, 6))
    assert inspect.isgeneratorfunction(type(layer)._get_filtersizeXfiltersize_views)
    views = layer._get_filtersizeXfiltersize_views(x)
    with pytest.raises(NotImplementedError):
        next(views)
    with pytest.raises(NotImplementedError):
        layer.forward(x)
    with pytest.raises(NotImplementedError):
        layer.backward({"x": x, "out": np.zeros((2, 3, 2, 3))}, np.ones((2, 3, 2, 3)))


@pytest.mark.parametrize("class_name, args", [
    ("Conv2dLayer", dict(n_inchannel=1, n_outchannel=3, filter_size=2, stride=2, padding=1)),
    ("FastConv2dLayer", dict(n_inchannel=1, n_outchannel=3, filter_size=2, stride=2, padding=1)),
    ("MaxPool2dLayer", dict(filter_size=2)),
])
def test_every_stub_of_notebook_04_fails_loudly(class_name, args):
    classes = load_classes(NOTEBOOKS / "04_layers_that_stack.ipynb", "Conv2dLayer", "MaxPool2dLayer", "FastConv2dLayer")
    layer = classes[class_name](**args)
    x = np.zeros((2, 1, 5, 6))
    with pytest.raises(NotImplementedError):
        layer.forward(x)
    with pytest.raises(NotImplementedError):
        layer.backward({"x": x, "out": np.zeros((2, 3, 3, 4))}, np.ones((2, 3, 3, 4)))


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_metadata_is_complete(name):
    notebook = cells.read(SOLUTIONS / name)
    ids = [cells.grade_id(cell) for cell in notebook.cells]
    assert None not in ids, "every cell carries nbgrader metadata (read-only, solution or graded)"
    assert len(ids) == len(set(ids)), "grade ids are unique"
    graded = [cell for cell in notebook.cells if cells.is_graded(cell)]
    assert graded and all(cell.metadata.nbgrader["points"] > 0 and cell.metadata.nbgrader["locked"] for cell in graded)
    assert all(cells.is_expected_to_fail(cell) for cell in graded), "graded cells fail in the student version"
    solution_cells = [cell for cell in notebook.cells if cell.metadata.nbgrader.get("solution")]
    if name in EXERCISES:  # one class cell to complete per class
        assert len(solution_cells) == CLASS_CELLS[name]
        assert all(cells.SOLUTION_REGION.search(cell.source) for cell in solution_cells)
    else:  # 03 uses the classes of 01 and 02: nothing to write
        assert solution_cells == [] and not any(cells.SOLUTION_REGION.search(cell.source) for cell in notebook.cells)


def test_generating_again_from_unchanged_solutions_runs_nbgrader_only_when_needed(regenerated):
    """grade runs generate_assignment(if_changed=True) every time: unchanged solutions leave the course as it is,
    a source that differs from solutions/ is generated again."""
    root = regenerated.parent
    release = root / "release" / "cnn"
    generated = {path.name: path.stat().st_mtime_ns for path in release.glob("*.ipynb")}
    assert generate_assignment(root, if_changed=True) == release
    assert {path.name: path.stat().st_mtime_ns for path in release.glob("*.ipynb")} == generated
    (root / "source" / "cnn" / NAMES[0]).write_text("{}")
    generate_assignment(root, if_changed=True)
    assert (root / "source" / "cnn" / NAMES[0]).read_bytes() == (SOLUTIONS / NAMES[0]).read_bytes()
    assert release.joinpath(NAMES[0]).stat().st_mtime_ns != generated[NAMES[0]]
