"""Taking in submissions: a folder ``DIR/<student_id>/<notebook>.ipynb`` or an LMS export zip.

Each notebook is checked before nbgrader sees it, so that a missing or unreadable notebook is
recorded with its reason instead of stopping the run.
"""

import re
import warnings
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.release import run_nbgrader

# Files in an LMS export zip: either folders per student (<anything>/<student_id>/<notebook>.ipynb)
# or Canvas-style flat names (<student_id>_[late_]<user id>_<submission id>_<notebook>[-<n>].ipynb).
FOLDER_PER_STUDENT = r".*/(?P<student_id>[^/]+)/(?P<file_id>[^/]+\.ipynb)$"
CANVAS_FLAT = r".*/(?P<student_id>[^/_]+)_(?:late_)?\d+_\d+_(?P<file_id>[^/]+?)(?:-\d+)?\.ipynb$"


@dataclass
class Submission:
    """What one student handed in: readable notebooks by name, and the problems found."""

    student_id: str
    notebooks: dict = field(default_factory=dict)  # notebook name (no .ipynb) -> Path
    missing: list = field(default_factory=list)  # notebook names not handed in
    unreadable: dict = field(default_factory=dict)  # notebook name -> reason
    repairs: list = field(default_factory=list)  # what was changed so that nbgrader accepts a notebook


def read_notebook(path):
    """Read a notebook quietly: nbformat warns when it renames duplicate cell ids, which is expected here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return nbformat.read(path, as_version=4)


def unreadable_reason(path):
    """None if ``path`` is a valid notebook, otherwise a one-line reason."""
    try:
        nbformat.validate(read_notebook(path))
    except Exception as error:  # NotJSONError, ValidationError, UnicodeDecodeError, ...
        first_line = (str(error).strip().splitlines() or [""])[0][:120]
        return f"{type(error).__name__}: {first_line}"
    return None


def repaired(notebook):
    """Undo JupyterLab's usual accidents that nbgrader refuses, in place; returns a list of what was done.

    A copied cell keeps its nbgrader metadata, and nbgrader stops at a duplicate grade id: the copy
    (every occurrence after the first) is kept as an ordinary code cell, so it still runs as it did
    for the student. Duplicate cell ids are already renamed by nbformat when the notebook is read.
    """
    seen, done = set(), []
    for cell in notebook.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in seen:
            del cell.metadata["nbgrader"]
            done.append(f"a copy of cell {grade_id!r} is graded as ordinary code")
        elif grade_id:
            seen.add(grade_id)
    return done


def copy_repaired(submission, destination):
    """Write the submission's readable notebooks into ``destination``, repaired; notes go to ``submission.repairs``."""
    for name, path in submission.notebooks.items():
        notebook = read_notebook(path)
        submission.repairs += [f"{name}.ipynb: {note}" for note in repaired(notebook)]
        nbformat.write(notebook, Path(destination) / f"{name}.ipynb")


def read_student(folder, student_id, notebook_names):
    """The submission of one student whose notebooks sit directly in ``folder``."""
    submission = Submission(student_id)
    for name in notebook_names:
        path = Path(folder) / f"{name}.ipynb"
        if path.is_symlink():  # it could point at anything readable by the grader, e.g. the reference solution
            submission.unreadable[name] = "a symbolic link, not a notebook file"
        elif not path.is_file():
            submission.missing.append(name)
        elif reason := unreadable_reason(path):
            submission.unreadable[name] = reason
        else:
            submission.notebooks[name] = path
    return submission


def read_folder(folder, notebook_names):
    """Submissions from ``folder/<student_id>/<notebook>.ipynb``, one per student folder, sorted by id."""
    return [read_student(student_dir, student_dir.name, notebook_names)
            for student_dir in sorted(p for p in Path(folder).iterdir() if p.is_dir() and not p.name.startswith("."))]


def collect_zip(archive, course_root, assignment):
    """Unpack an LMS export zip into ``<course_root>/submitted`` with nbgrader's ``zip_collect``.

    :returns: the folder of ``<student_id>/<assignment>/`` directories it filled.
    """
    course_root = Path(course_root)
    downloaded = course_root / "downloaded" / assignment
    shutil.rmtree(downloaded, ignore_errors=True)
    (downloaded / "archive").mkdir(parents=True)
    shutil.copy2(archive, downloaded / "archive")
    with zipfile.ZipFile(archive) as zf:
        names = [name for name in zf.namelist() if name.endswith(".ipynb") and "__MACOSX" not in name]
    regexp = FOLDER_PER_STUDENT if any("/" in name for name in names) else CANVAS_FLAT
    collected = course_root / "collected"
    shutil.rmtree(collected, ignore_errors=True)
    run_nbgrader("zip_collect", assignment, "--force", f"--CourseDirectory.submitted_directory={collected.name}",
                 f"--FileNameCollectorPlugin.named_regexp={regexp}", course_root=course_root)
    return collected


def read_zip(archive, course_root, assignment, notebook_names):
    """Submissions from an LMS export zip, laid out as a folder first by :func:`collect_zip`."""
    collected = collect_zip(archive, course_root, assignment)
    return [read_student(student_dir / assignment, student_dir.name, notebook_names)
            for student_dir in sorted(p for p in collected.iterdir() if p.is_dir())]


def is_safe_student_id(student_id):
    """Student ids become folder names and database keys: letters, digits, ``.-_@`` only."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}", student_id))
