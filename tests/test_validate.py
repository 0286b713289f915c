"""`nbgrader validate`, which students run from JupyterLab with the hand-out's settings, agrees with the visible
checks."""


import copy

import pytest
from nbgrader.validator import Validator
from traitlets.config.loader import PyFileConfigLoader

import notebook_cells as cells
from autograder import sample_class
from autograder.handout import TEMPLATE
from cnnkit.notebook_loader import TEACHING_TAG
from reference import NOTEBOOKS

# What the Validate button of the hand-out's `make lab` reads (JupyterLab finds it on JUPYTER_CONFIG_PATH).
HANDOUT_CONFIG = PyFileConfigLoader("nbgrader_config.py", path=str(TEMPLATE / "jupyter-config")).load_config()


@pytest.fixture(scope="module")
def submissions(tmp_path_factory):
    root = tmp_path_factory.mktemp("validate")
    return sample_class.build(root / "class", NOTEBOOKS)


def failing_grade_ids_by_validate(notebook_path):
    results = Validator(config=HANDOUT_CONFIG).validate(str(notebook_path))
    notebook = cells.read(notebook_path)
    by_source = {cell.source.strip(): cells.grade_id(cell) for cell in notebook.cells}
    return {by_source[failed["source"]] for failed in results.get("failed", [])}


@pytest.mark.parametrize("student", ["correct", "original_post", "flipped_kernel"])
def test_validate_gives_the_verdict_of_the_visible_checks(submissions, student):
    """The graded cells validate reports failing are the ones whose visible checks fail (test_notebooks_run.py runs
    the notebooks themselves, teaching cells included)."""
    verdicts = set()
    for notebook_path in sorted((submissions / student).glob("0[124]_*.ipynb")):  # 03's verdict: test_network.py
        verdicts |= failing_grade_ids_by_validate(notebook_path)
    assert verdicts == sample_class.EXPECTED_FAILURES[student] - {sample_class.TRAINING_TEST}


def test_validate_with_the_hand_outs_settings_leaves_out_the_cells_that_only_teach(submissions):
    """nbclient calls its on_cell_execute hook for each cell it runs: none of the ones tagged teaching."""
    notebook_path = submissions / "correct" / "04_layers_that_stack.ipynb"
    ran = []
    config = copy.deepcopy(HANDOUT_CONFIG)
    config.Execute.on_cell_execute = lambda cell, cell_index: ran.append(cells.grade_id(cell))
    assert Validator(config=config).validate(str(notebook_path)).get("failed", []) == []
    notebook = cells.read(notebook_path)
    teaching = {cells.grade_id(cell) for cell in notebook.cells if TEACHING_TAG in cell.metadata.get("tags", [])}
    assert {"speed_table", "deeper_training"} <= teaching and not teaching & set(ran)
    assert {"conv2d_forward", "fastconv2d"} <= set(ran)
