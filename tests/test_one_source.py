"""Each fact of the course is defined once; every other place that states it is derived from it or checked here.

The sources: points and grade ids in the nbgrader metadata of ``solutions/`` (read by
:func:`autograder.release.graded_cells`); notebook 03's seed, training hyperparameters and accuracy threshold in
:mod:`cnnkit.network` (its architecture is ``DigitCNN``'s defaults); the time limits in
:mod:`autograder.time_limits`. Each failure says which copy drifted and how to fix it.
"""

import ast
import inspect
import re

import nbformat
import pytest

from autograder import cases, reports, sample_class, verdict
from autograder.release import REPO, SOLUTIONS, graded_cells
from autograder.student_result import StudentResult
from autograder.time_limits import DEFAULTS, PAGE_MEMORY
from cnnkit import checks, network

README = REPO / "README.md"
HANDOUT = REPO / "autograder" / "handout_template"
TRAINING_NOTEBOOK = SOLUTIONS / f"{sample_class.TRAINING}.ipynb"
LAYER_NOTEBOOKS = [sample_class.CONV, sample_class.POOL, sample_class.STACKING]  # the notebooks with layer tests


def _cells(notebook):
    return nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4).cells


def _cell(notebook, grade_id):
    (cell,) = [cell for cell in _cells(notebook) if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    return cell


def _percent(fraction):
    return round(100 * fraction)


# ---- grade ids and points ------------------------------------------------------------------------------

def test_every_list_of_layer_tests_is_the_graded_cells_of_the_layer_notebooks():
    layer_tests = {grade_id for notebook in LAYER_NOTEBOOKS for grade_id, _ in graded_cells()[notebook]}
    fix = "the graded cells of solutions/01, 02 and 04 are the source: add or rename the test there and in"
    assert set(checks.RUNNERS) == layer_tests, f"{fix} cnnkit/checks.py (RUNNERS)"
    assert set(checks.TITLES) == layer_tests, f"{fix} cnnkit/checks.py (TITLES)"
    assert set(cases.generate(0)) == layer_tests, f"{fix} autograder/cases.py (generate), then `make hidden`"
    assert set(cases.visible()) == layer_tests, f"{fix} autograder/cases.py (the visible cases), then `make release`"
    assert set(cases.SIGNATURE_KINDS) <= layer_tests, f"{fix} autograder/cases.py (SIGNATURE_KINDS)"
    assert set(verdict.TRAINING_NEEDS) <= layer_tests, f"{fix} cnnkit/network.py (LAYER_CHECKS)"


def test_the_accuracy_test_is_the_graded_cell_of_notebook_03():
    assert [grade_id for grade_id, _ in graded_cells()[sample_class.TRAINING]] == [verdict.TRAINING_TEST], \
        "solutions/03's graded cell is the source: rename autograder/verdict.py's TRAINING_TEST to match"


@pytest.mark.parametrize("notebook", sorted(graded_cells()))
def test_the_headings_state_the_points_of_the_metadata(notebook):
    """The heading above each graded cell says its points, and the notebook's "N points in all" their sum."""
    points = dict(graded_cells()[notebook])
    total, heading = sum(points.values()), None
    for cell in _cells(notebook):
        if cell.cell_type == "markdown":
            heading = cell.source
            for stated in re.findall(r"(\d+) points in all", cell.source):
                assert float(stated) == total, f"solutions/{notebook}: '{stated} points in all', the metadata " \
                    f"gives {total:g}: change the text (the metadata is the source)"
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in points:
            stated = re.findall(r"^#+ .*\((\d+) points?\)\s*$", heading or "", re.M)
            assert stated and float(stated[-1]) == points[grade_id], \
                f"solutions/{notebook}: the heading above {grade_id} should end with ({points[grade_id]:g} " \
                f"point{'s' * (points[grade_id] != 1)}), as its nbgrader metadata says"


def _expected_demo_results():
    """What the sample class must score (from the expected failures and the metadata's points), as the table has
    it."""
    graded = graded_cells()
    results = []
    for student in sorted([*sample_class.EXPECTED_FAILURES, *sample_class.EXPECTED_BROKEN]):
        failed = sample_class.EXPECTED_FAILURES.get(student, set())
        broken, status = sample_class.EXPECTED_BROKEN.get(student, (None, "graded"))
        lost = {broken, sample_class.TRAINING} if broken else set()
        scores = {notebook: 0.0 if notebook in lost else sum(p for grade_id, p in cells if grade_id not in failed)
                  for notebook, cells in graded.items()}
        results.append(StudentResult(student, status=status, scores=scores))
    return results


def test_the_readme_demo_table_is_what_the_sample_class_must_score():
    readme = README.read_text().splitlines()
    start = next(i for i, line in enumerate(readme) if line.startswith("student  "))
    shown = readme[start:next(i for i in range(start, len(readme)) if not readme[i].strip() or
                              readme[i].startswith(("  ", "```")))]
    expected = reports.table(_expected_demo_results()).splitlines()
    assert shown == expected, "README.md's demo table (under `make demo`) should read:\n" + "\n".join(expected)


def test_the_readme_states_the_points_of_notebook_03():
    (points,) = [p for _, p in graded_cells()[sample_class.TRAINING]]
    assert re.findall(r"Notebook 03 earns its (\d+) points", README.read_text()) == [f"{points:g}"]


# ---- notebook 03: seed, hyperparameters, architecture, threshold ----------------------------------------

def _assignments(source):
    """{name: literal value} of the simple assignments (tuples included) in a cell's code."""
    found = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            names = target.elts if isinstance(target, ast.Tuple) else [target]
            values = value.elts if isinstance(value, ast.Tuple) and isinstance(target, ast.Tuple) else [value]
            for name, item in zip(names, values):
                if isinstance(name, ast.Name) and isinstance(item, ast.Constant):
                    found[name.id] = item.value
    return found


def test_notebook_03_trains_with_the_seed_and_hyperparameters_of_cnnkit_network():
    shown = {**_assignments(_cell(sample_class.TRAINING, "load_data").source),
             **_assignments(_cell(sample_class.TRAINING, "train").source)}
    source = {"SEED": network.SEED, **{name.upper(): value for name, value in network.TRAINING.items()}}
    assert {name: shown.get(name) for name in source} == source, \
        "cnnkit/network.py (SEED, TRAINING) is the source: the verdict trains with it; write the same values in " \
        "solutions/03_training.ipynb (cells load_data and train), then `make release`"


def test_notebook_03_builds_the_network_of_digitcnns_defaults():
    (call,) = [node for node in ast.walk(ast.parse(_cell(sample_class.TRAINING, "build_model").source))
               if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "DigitCNN"]
    shown = {keyword.arg: keyword.value.value for keyword in call.keywords if isinstance(keyword.value, ast.Constant)}
    defaults = {name: parameter.default for name, parameter in inspect.signature(network.DigitCNN).parameters.items()
                if name in shown}
    assert shown == defaults, "DigitCNN's defaults (cnnkit/network.py) are the network the verdict trains: write " \
        "the same in solutions/03_training.ipynb (cell build_model), then `make release`"


def test_every_statement_of_the_accuracy_threshold_is_cnnkit_networks():
    threshold = _percent(network.MINIMUM_ACCURACY)
    notebook = " ".join(cell.source for cell in _cells(sample_class.TRAINING))
    stated = re.findall(r"at\s+least\s+(\d+)%", notebook)
    for path in (README, HANDOUT / "README.md"):
        stated += re.findall(r"(\d+)% test accuracy", path.read_text())
    assert len(stated) >= 5 and set(stated) == {str(threshold)}, \
        f"cnnkit/network.py's MINIMUM_ACCURACY ({threshold}%) is the source: make solutions/03_training.ipynb, " \
        f"README.md and the hand-out's README say {threshold}% (found {stated})"
    assert "minimum=" not in _cell(sample_class.TRAINING, verdict.TRAINING_TEST).source, \
        "the graded cell of notebook 03 must use check_test_accuracy's default threshold"


def test_the_readme_and_notebook_03_state_the_epochs_of_grading():
    stated = re.findall(r"for (\d+) epochs, not the notebook's (\d+)", README.read_text())
    assert stated == [(str(network.GRADING_EPOCHS), str(network.TRAINING["epochs"]))], \
        "README.md should say grading trains for network.GRADING_EPOCHS epochs, the notebook for " \
        "cnnkit.network.TRAINING['epochs']"
    text = _cell(sample_class.TRAINING, "training_text").source
    assert re.findall(r"trains for (\d+) epochs\s+only", text) == [str(network.GRADING_EPOCHS)], \
        "notebook 03's section 3.6 should say grading trains for network.GRADING_EPOCHS epochs"
    assert "EPOCHS = network.GRADING_EPOCHS" in _cell(sample_class.TRAINING, "train").source
    handout = (HANDOUT / "README.md").read_text()
    assert re.findall(r"notebook 03 trains for (\d+) epochs instead of (\d+)", handout) == [stated[0]], \
        "the hand-out's README should say Validate and make check train for network.GRADING_EPOCHS epochs"


# ---- time limits --------------------------------------------------------------------------------------

def test_the_readme_states_the_default_time_limits():
    text = " ".join(README.read_text().split())
    stated = {variable: int(seconds) for seconds, variable in
              re.findall(r"(\d+) s (?:per \w+ )?(?:of a layer method |for the training of notebook 03 )?"
                         r"\(`(CNNKIT_\w+_TIMEOUT)`\)", text)}
    stated.update({variable: int(seconds) for variable, seconds in re.findall(r"`(CNNKIT_\w+_TIMEOUT)`, (\d+) s", text)})
    assert stated == DEFAULTS, f"autograder/time_limits.py is the source: make README.md say {DEFAULTS}"
    assert f"{PAGE_MEMORY >> 30} GiB of memory" in text, "README.md should state time_limits.PAGE_MEMORY"


def test_the_handouts_validate_button_gives_cells_the_grading_time_limit():
    config = (HANDOUT / "jupyter-config" / "nbgrader_config.py").read_text()
    assert re.findall(r"c\.Execute\.timeout = (\d+)", config) == [str(DEFAULTS["CNNKIT_CELL_TIMEOUT"])], \
        "autograder/handout_template/jupyter-config/nbgrader_config.py should set the cell limit of " \
        "cnnkit/notebook_loader.py (CELL_TIMEOUT)"
