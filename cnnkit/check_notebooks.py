"""Run every notebook of this folder without a browser and say, one line per check, which checks pass.

``python -m cnnkit.check_notebooks [FOLDER]`` (what the hand-out's ``make check`` runs). Each notebook is
run from top to bottom in a fresh kernel, as "Restart Kernel and Run All Cells" would, from the saved
file: save your notebooks first. The cells that only teach (figures and demos, tagged ``teaching``) are left
out, as in grading, unless your code uses a name one of them defines, and notebook 03 trains its network for as
few epochs as grading does (NBGRADER_EXECUTION is set, as nbgrader's Validate sets it). Nothing is written back to
the notebooks.
A check line gives the check's name and points, then either what it printed when it passed or the first line of
its diagnosis and the likely cause. The exit status is 1 when some check fails.
"""

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cnnkit.notebook_loader import CELL_TIMEOUT, TEACHING_TAG, teaching_cells  # CELL_TIMEOUT: as in grading

SKIP = "cnnkit-check-skips"  # the tag that tells nbclient not to run a cell (only in the copy run here)


def summary(cell):
    """(passed, one line) for an executed check cell: its last printed line, or its diagnosis in one line (the
    error's first line and its likely cause)."""
    errors = [output for output in cell.outputs if output.output_type == "error"]
    if not errors:
        printed = [line for output in cell.outputs if output.output_type == "stream"
                   for line in output.text.splitlines() if line.strip()]
        return True, printed[-1] if printed else "passed"
    lines = errors[0].evalue.splitlines() or [""]
    cause = next((line for line in lines if line.startswith("Likely cause:")), None)
    first = f"{errors[0].ename}: {lines[0]}"
    return False, first if cause is None else f"{first} {cause}"


def check_notebook(path):
    """Run the notebook at ``path`` in its folder; yields (grade id, points, passed, line) per check cell."""
    notebook = nbformat.read(path, as_version=4)
    for index in teaching_cells(notebook.cells, lambda cell: TEACHING_TAG in cell["metadata"].get("tags", [])):
        notebook.cells[index].metadata.setdefault("tags", []).append(SKIP)
    # As nbgrader's Validate button: NBGRADER_EXECUTION tells the notebooks they are checked (03 trains less).
    os.environ["NBGRADER_EXECUTION"] = "validate"
    NotebookClient(notebook, timeout=CELL_TIMEOUT, allow_errors=True, skip_cells_with_tag=SKIP,
                   extra_arguments=["--IPKernelApp.log_level=ERROR", "--HistoryManager.hist_file=:memory:"],
                   resources={"metadata": {"path": str(Path(path).parent)}}).execute()
    for cell in notebook.cells:
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and grading.get("grade"):
            yield (grading.get("grade_id", "?"), grading.get("points", 0), *summary(cell))


def main(argv=None):
    folder = Path((argv or sys.argv[1:] or ["."])[0])
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        print(f"No numbered notebooks (01_...ipynb) in {folder.resolve()}.")
        return 2
    passed = total = earned = possible = 0
    for path in notebooks:
        print(f"{path.name}", flush=True)
        for grade_id, points, ok, line in check_notebook(path):
            total, passed, possible = total + 1, passed + ok, possible + points
            earned += points if ok else 0
            print(f"  {'PASS' if ok else 'FAIL'}  {grade_id} ({points:g} point{'s' if points != 1 else ''}): {line}",
                  flush=True)
    print(f"{passed} of {total} checks pass ({earned:g} of {possible:g} points; the grade also uses hidden cases).")
    return 0 if passed == total else 1


if __name__ == "__main__":
    sys.exit(main())
