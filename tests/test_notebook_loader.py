"""cnnkit.notebook_loader: the student's code runs as the student ran it (every statement, notebook order, a kernel's
``__name__``), the kit's checks, tests and figures do not, and a failing or endless cell only fails what needs it."""

import json
import time

import matplotlib.pyplot as plt
import pytest

from cnnkit.notebook_loader import (NotebookLoadError, code_that_runs, load_classes, plan, run_code)

KIT = {"grade": False, "locked": True, "solution": False, "grade_id": "kit", "schema_version": 3}
TEST = {"grade": True, "locked": True, "solution": False, "grade_id": "test", "points": 1, "schema_version": 3}
SOLUTION = {"grade": False, "locked": False, "solution": True, "grade_id": "answer", "schema_version": 3}


def notebook(tmp_path, *cells):
    """Write a notebook of code cells given as (nbgrader metadata or None, source); returns its path."""
    content = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"cell-{number}", "execution_count": None, "outputs": [], "source": source,
         "metadata": {} if meta is None else {"nbgrader": dict(meta, grade_id=f"{meta['grade_id']}-{number}")}}
        for number, (meta, source) in enumerate(cells)]}
    path = tmp_path / "student.ipynb"
    path.write_text(json.dumps(content))
    return path


def test_every_statement_of_the_students_cells_runs_in_order_in_a_kernels_namespace(tmp_path):
    path = notebook(tmp_path,
                    (KIT, "import numpy as np\nimport this_module_does_not_exist_anywhere\n"),
                    (SOLUTION, "scale = lambda v: 2 * v\nrng = np.random.default_rng(0)\n"
                               "class Layer:\n    def f(self):\n        return scale(helper()) + rng.normal() * 0\n"),
                    (None, "if __name__ == '__main__':\n    def helper():\n        return LIMIT\nLIMIT = 3\n"))
    namespace, problems = run_code(path)
    assert namespace["Layer"]().f() == 6
    assert problems == []  # the kit's second import was not needed, so it did not run


def test_the_kits_checks_figures_and_tests_do_not_run(tmp_path):
    path = notebook(tmp_path,
                    (KIT, "import numpy as np\nraise RuntimeError('a figure or check of the kit')\n"),
                    (SOLUTION, "class Layer:\n    size = np.zeros(2).shape\n"),
                    (TEST, "Layer = None\n"),
                    (KIT, "layer = Layer()\nraise RuntimeError('a demo of the kit')\n"))
    namespace, problems = run_code(path)
    assert namespace["Layer"].size == (2,) and problems == []
    assert [(s.cell, s.index, s.kit) for s in plan(path)] == [(1, 0, True), (2, 0, False)]


def test_a_kit_statement_runs_when_the_students_code_needs_it_even_through_another(tmp_path):
    path = notebook(tmp_path,
                    (KIT, "import numpy as np\nBASE = np.arange(3)\nEXAMPLE = BASE * 2\nprint('a figure')\n"),
                    (SOLUTION, "class Layer:\n    def values(self):\n        return EXAMPLE\n"))
    assert load_classes(path, "Layer")["Layer"]().values().tolist() == [0, 2, 4]
    assert "print" not in code_that_runs(path)


def test_a_methods_local_names_do_not_pull_in_the_kits_statements(tmp_path):
    path = notebook(tmp_path,
                    (KIT, "x = 1 / 0\n"),
                    (SOLUTION, "class Layer:\n    def f(self, x):\n        return x\n"))
    namespace, problems = run_code(path)
    assert problems == [] and namespace["Layer"]().f(5) == 5


def test_a_failing_cell_stops_at_its_first_error_is_recorded_and_the_next_cell_runs(tmp_path):
    path = notebook(tmp_path,
                    (None, "first = 1\nundefined + 1\nnever = 2\n"),
                    (None, "import sys\nsys.exit(3)\n"),
                    (SOLUTION, "class Layer:\n    pass\n"))
    namespace, problems = run_code(path)
    assert namespace["first"] == 1 and "never" not in namespace and "Layer" in namespace
    assert problems == ["code cell 1 raised NameError: name 'undefined' is not defined",
                        "code cell 2 raised SystemExit: 3"]


def test_a_cell_past_its_time_limit_is_stopped_and_what_it_defined_before_stays(tmp_path):
    path = notebook(tmp_path,
                    (SOLUTION, "class Layer:\n    pass\n\nwhile True:\n    try:\n        pass\n"
                               "    except Exception:\n        pass\n"),
                    (None, "after = True\n"))
    started = time.monotonic()
    namespace, problems = run_code(path, cell_timeout=0.5)
    assert time.monotonic() - started < 5
    assert "Layer" in namespace and namespace["after"] is True
    assert problems == ["code cell 1 ran past its time limit (0.5 s) and was stopped"]


def test_the_cells_after_the_notebooks_time_limit_are_not_run(tmp_path):
    path = notebook(tmp_path,
                    (None, "import time\ntime.sleep(0.6)\n"),
                    (SOLUTION, "class Layer:\n    pass\n"),
                    (None, "time.sleep(0.6)\n"),
                    (None, "late = True\n"))
    namespace, problems = run_code(path, total_timeout=1.0)
    assert "Layer" in namespace and "late" not in namespace
    assert problems[-1] == "code cell 4 and the ones after it were not run: the notebook's time limit (1 s) ran out"


def test_skipped_statements_do_not_run(tmp_path):
    path = notebook(tmp_path, (SOLUTION, "import os\nos._exit(1)\nclass Layer:\n    pass\n"))
    seen = []
    namespace, problems = run_code(path, skip={(1, 1)}, before=lambda statement: seen.append(statement.index))
    assert "Layer" in namespace and problems == [] and seen == [0, 2]


def test_nothing_printed_or_drawn_reaches_the_caller(tmp_path, capsys):
    figures = set(plt.get_fignums())
    path = notebook(tmp_path, (None, "import sys\nimport matplotlib.pyplot as plt\nprint('out')\n"
                                     "print('err', file=sys.stderr)\nplt.figure()\nplt.plot([1, 2])\n"))
    run_code(path)
    assert capsys.readouterr() == ("", "")
    assert set(plt.get_fignums()) == figures


def test_a_class_that_is_not_defined_is_reported_with_what_went_wrong(tmp_path):
    path = notebook(tmp_path, (SOLUTION, "class Layer(object)\n    pass\n"))
    with pytest.raises(NotebookLoadError, match=r"does not define Layer \(code cell 1 raised SyntaxError"):
        load_classes(path, "Layer")
    (tmp_path / "broken.ipynb").write_text("{not json")
    with pytest.raises(NotebookLoadError, match="cannot read broken.ipynb"):
        load_classes(tmp_path / "broken.ipynb", "Layer")


def test_magics_and_shell_lines_are_blanked_and_line_numbers_kept(tmp_path):
    path = notebook(tmp_path, (SOLUTION, "%matplotlib inline\n!ls\nclass Layer:\n    pass\nraise ValueError('here')\n"))
    namespace, problems = run_code(path)
    assert "Layer" in namespace and problems == ["code cell 1 raised ValueError: here"]
    assert [s.code.lineno for s in plan(path)] == [3, 5]


def test_an_interrupt_by_the_person_running_it_is_not_swallowed(tmp_path):
    path = notebook(tmp_path, (None, "raise KeyboardInterrupt\n"), (None, "after = 1\n"))
    with pytest.raises(KeyboardInterrupt):
        run_code(path)
