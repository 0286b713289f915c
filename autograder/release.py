"""Generate what the reference notebooks in ``solutions/`` imply: the student notebooks in ``notebooks/``, and the
case data the checks compare with (``cnnkit/visible_cases.npz``, ``autograder/runner/kernel_cases.npz``) and
the figure data of notebook 02 (``cnnkit/worked_examples.npz``).

nbgrader does the work on the notebooks (``generate_assignment``: solution regions become stubs, hidden
tests are removed, cells are locked and checksummed, the gradebook learns the graded cells); this module
only lays out the course folder nbgrader expects and copies the result back. The case data comes from
:mod:`autograder.cases`.

Usage: ``python -m autograder.release`` (what ``make release`` runs).
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import sqlalchemy
from nbgrader.api import Gradebook, MissingEntry

from autograder import cases, worked_examples
from autograder.kit_records import database_url

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
STUDENT_NOTEBOOKS = REPO / "notebooks"
COURSE_ROOT = REPO / "autograder"
ASSIGNMENT = "cnn"


def run_nbgrader(*arguments, course_root=COURSE_ROOT, quiet=False):
    """Run ``nbgrader <arguments>`` on the course at ``course_root`` with the course's nbgrader_config.py.

    With ``quiet``, nbgrader's own output is discarded.

    nbgrader starts helper programs (alembic) by name, so this environment's bin folder goes first on PATH.
    """
    bin_dir = Path(sys.executable).parent
    environment = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([str(bin_dir / "nbgrader"), *arguments, f"--CourseDirectory.root={course_root}",
                    "--log-level=ERROR"], cwd=COURSE_ROOT, env=environment, check=True,
                   stdout=subprocess.DEVNULL if quiet else None, stderr=subprocess.DEVNULL if quiet else None)


def graded_cells():
    """{notebook: [(grade_id, max_points), ...]} of the assignment (from the reference notebooks' nbgrader
    metadata), in notebook and cell order."""
    graded = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        cells = [cell.metadata["nbgrader"] for cell in nbformat.read(path, as_version=4).cells]
        graded[path.stem] = [(meta["grade_id"], float(meta["points"])) for meta in cells if meta.get("grade")]
    return graded


def normalized(notebook):
    """The notebook without outputs or execution counts, the only parts that change between runs."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        cell.metadata.pop("execution", None)
    return notebook


def release_folder(course_root):
    """The folder of a course's generated student notebooks, ``<course_root>/release/cnn``."""
    return Path(course_root) / "release" / ASSIGNMENT


def _generated_from_solutions(course_root):
    """Whether the course's source, release and gradebook were generated from ``solutions/`` as it is now."""
    source, release = course_root / "source" / ASSIGNMENT, release_folder(course_root)
    names = sorted(path.name for path in SOLUTIONS.glob("*.ipynb"))
    return sorted(path.name for path in source.glob("*")) == names \
        and all((release / name).is_file() for name in names) \
        and all((source / name).read_bytes() == (SOLUTIONS / name).read_bytes() for name in names) \
        and _gradebook_knows(course_root, names)


def _gradebook_knows(course_root, names):
    """Whether the course's gradebook holds the assignment with the notebooks ``names``."""
    url = database_url(course_root)
    if url.startswith("sqlite:///") and not (course_root / "gradebook.db").is_file():
        return False  # opening it would create it
    engine = sqlalchemy.create_engine(url)
    try:
        if not sqlalchemy.inspect(engine).has_table("assignment"):
            return False  # an empty database: nbgrader creates its tables (opening it here would need alembic)
    finally:
        engine.dispose()
    with Gradebook(url) as gradebook:
        try:
            notebooks = gradebook.find_assignment(ASSIGNMENT).notebooks
        except MissingEntry:
            return False
        return sorted(f"{notebook.name}.ipynb" for notebook in notebooks) == names


def generate_assignment(course_root=COURSE_ROOT, if_changed=False):
    """Copy ``solutions/*.ipynb`` into ``<course_root>/source/cnn`` and run nbgrader on it.

    :param if_changed: do nothing when the course was already generated from ``solutions/`` as it is now (nbgrader
        takes seconds to start).
    :returns: :func:`release_folder`, the generated student notebooks.
    """
    course_root = Path(course_root).resolve()
    if if_changed and _generated_from_solutions(course_root):
        return release_folder(course_root)
    source = course_root / "source" / ASSIGNMENT
    shutil.rmtree(source, ignore_errors=True)
    source.mkdir(parents=True)
    for notebook in sorted(SOLUTIONS.glob("*.ipynb")):
        shutil.copy2(notebook, source)
    run_nbgrader("generate_assignment", ASSIGNMENT, "--force", course_root=course_root)
    return release_folder(course_root)


def write_student_notebooks(release, destination=STUDENT_NOTEBOOKS):
    """Replace the notebooks in ``destination`` by the normalized notebooks of ``release``."""
    destination = Path(destination)
    destination.mkdir(exist_ok=True)
    for old in destination.glob("*.ipynb"):
        old.unlink()
    for notebook in sorted(Path(release).glob("*.ipynb")):
        nbformat.write(normalized(nbformat.read(notebook, as_version=4)), destination / notebook.name)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course-root", type=Path, default=COURSE_ROOT, help="nbgrader course folder")
    parser.add_argument("--output", type=Path, default=STUDENT_NOTEBOOKS, help="where the student notebooks go")
    args = parser.parse_args(argv)
    for path in cases.write_data_files():
        print(f"Cases written to {path}")
    if worked_examples.write():
        print(f"Figure data written to {worked_examples.WORKED_EXAMPLES}")
    write_student_notebooks(generate_assignment(args.course_root), args.output)
    print(f"Student notebooks written to {args.output}")


if __name__ == "__main__":
    main()
