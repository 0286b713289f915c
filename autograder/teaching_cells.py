"""When nbgrader grades, the cells that only teach (figures, demos) are not run; the feedback says so.

The reference notebooks in ``solutions/`` tag those cells ``teaching`` (:data:`cnnkit.notebook_loader.TEACHING_TAG`;
the tag a student's copy carries is not trusted: the source decides, by grade id). Nothing graded depends on them:
a test checks that no other cell reads a name they bind. A teaching cell still runs when the student's own code
reads a name it binds (see :func:`cnnkit.notebook_loader.teaching_cells`), so that the student's code runs as it
did at home. The hand-out's ``make check`` leaves out the same cells. A skipped cell's output is one line that says
it was not run for grading, which the feedback and the formgrader show.

Set in nbgrader_config.py through ``c.Autograde.autograde_preprocessors``, in place of nbgrader's Execute.
"""

import functools
import json
import time

import nbformat
from traitlets import Bool

from autograder import kit_autograde, stages
from autograder.limited_execute import LimitedExecute
from autograder.release import SOLUTIONS
from cnnkit.notebook_loader import TEACHING_TAG, teaching_cells

NOTE = ("Not run for grading: this cell only teaches (a figure or a demo), and nothing graded depends on it. "
        "Run it in JupyterLab to see what it shows.\n")


@functools.cache
def teaching_grade_ids(notebook):
    """The grade ids of the cells tagged ``teaching`` in the reference notebook ``notebook`` (a name without
    .ipynb); empty for a notebook that is not one of the course's."""
    path = SOLUTIONS / f"{notebook}.ipynb"
    if not path.is_file():
        return frozenset()
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return frozenset(cell["metadata"]["nbgrader"]["grade_id"] for cell in cells
                     if TEACHING_TAG in cell["metadata"].get("tags", []) and "nbgrader" in cell["metadata"])


def cells_to_skip(nb, notebook):
    """The indices (in ``nb.cells``) of the teaching cells of ``nb`` that grading need not run.

    :param nb: the student's notebook, as nbgrader grades it (its locked cells restored from the source).
    :param notebook: its name without .ipynb.
    """
    teaching = teaching_grade_ids(notebook)
    return teaching_cells(nb.cells, lambda cell: cell["metadata"]["nbgrader"].get("grade_id") in teaching)


class SkipTeaching(LimitedExecute):
    """nbgrader's Execute (with the kit's output limit), not running the cells that only teach."""

    skip_teaching = Bool(True, help="Leave out the cells the reference notebooks tag 'teaching'.").tag(config=True)

    def preprocess(self, nb, resources=None, km=None):
        notebook = ((resources or {}).get("nbgrader") or {}).get("notebook", "")
        self._skipped = cells_to_skip(nb, notebook) if self.skip_teaching else set()
        self._started = time.perf_counter()  # until the first cell: the kernel's start
        try:
            return super().preprocess(nb, resources, km)
        except Exception as error:  # nbgrader drops the student's autograde next: the kit's verdicts are kept first
            kit_autograde.record_failed_run(self, resources, error)
            raise

    def preprocess_cell(self, cell, resources, index):
        if self._started is not None:
            stages.add("kernel starts", time.perf_counter() - self._started)
            self._started = None
        if index in self._skipped:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOTE)]
            cell.execution_count = None
            return cell, resources
        return super().preprocess_cell(cell, resources, index)
