"""Reading nbgrader notebooks for the tests: cells by grade id, solution regions, execution."""

import re

import nbformat
from nbclient import NotebookClient

from cnnkit.notebook_loader import TEACHING_TAG

SOLUTION_REGION = re.compile(r"^[ \t]*### BEGIN SOLUTION[^\n]*\n(.*?)^[ \t]*### END SOLUTION", re.M | re.S)
HIDDEN_REGION = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS[^\n]*\n(.*?)^[ \t]*### END HIDDEN TESTS", re.M | re.S)
EXPECTED_TO_FAIL = "raises-exception"


def read(path):
    return nbformat.read(path, as_version=4)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_graded(cell):
    return cell.metadata.get("nbgrader", {}).get("grade", False)


def is_expected_to_fail(cell):
    return EXPECTED_TO_FAIL in cell.metadata.get("tags", [])


def region_lines(notebook, region=SOLUTION_REGION):
    """Stripped, non-blank lines found inside the given kind of region in any cell."""
    return {line.strip() for cell in notebook.cells for body in region.findall(cell.source)
            for line in body.splitlines() if line.strip()}


def execute(notebook, cwd, allow_errors=False, timeout=120, teaching=True):
    """Run ``notebook`` in place with a fresh kernel started in ``cwd``; returns it. ``teaching=False`` leaves out
    the cells tagged "teaching" (figures and demos), as grading does."""
    NotebookClient(notebook, timeout=timeout, allow_errors=allow_errors, kernel_name="python3",
                   skip_cells_with_tag="skip-execution" if teaching else TEACHING_TAG,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def errors_by_cell(notebook):
    """{index: (grade_id, ename, evalue)} of every code cell whose outputs hold an error."""
    found = {}
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found[index] = (grade_id(cell), output.ename, output.evalue)
    return found
