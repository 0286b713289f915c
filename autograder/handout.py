"""Build the students' hand-out: ``build/handout/`` and ``build/cnn-course-handout.zip`` (``make handout``).

The hand-out is exactly what a student needs and nothing that computes an answer:

- the three student notebooks of ``notebooks/`` (generated from ``solutions/`` by ``make release``);
- the student package ``cnnkit/`` as it is in this repository (checks, figures, data, gradient checker,
  notebook 03's network pieces), with its case data and figure data computed afresh from the oracle;
- the files of ``autograder/handout_template/``: a student README, a Makefile with ``make lab`` and
  ``make check``, and the student-only JupyterLab settings;
- ``requirements.txt``: this repository's pins of what students use (without the grading and test tools).

Usage: ``python -m autograder.handout [DEST] [--working-copy FOLDER]``. With ``--working-copy`` (what the
repository's ``make lab`` uses), FOLDER is brought up to date with the hand-out, except for the notebooks
it already holds: that is where someone tries the notebooks, never in ``notebooks/``.
"""

import argparse
import shutil
import zipfile
from pathlib import Path

from autograder import cases, worked_examples
from autograder.release import REPO, STUDENT_NOTEBOOKS
from cnnkit import checks

TEMPLATE = Path(__file__).with_name("handout_template")
STUDENT_PACKAGE = REPO / "cnnkit"
HANDOUT = REPO / "build" / "handout"
ZIP_NAME = "cnn-course-handout"
GRADING_HEADING = "# Grading"  # requirements.txt: from this line on, the grading and test tools students never use


def student_requirements(requirements=REPO / "requirements.txt"):
    """The lines of the repository's requirements.txt above its grading and test tools."""
    lines = Path(requirements).read_text().splitlines()
    return "\n".join(lines[:lines.index(GRADING_HEADING)]).rstrip() + "\n"


def build(dest=HANDOUT, zip_path=None):
    """Write the hand-out into ``dest`` (emptied first) and, unless ``zip_path`` is False, zip it (default:
    ``<dest's parent>/cnn-course-handout.zip``, holding one folder ``cnn-course-handout/``).

    :returns: the zip's path, or None.
    """
    dest = Path(dest)
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(TEMPLATE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for notebook in sorted(STUDENT_NOTEBOOKS.glob("*.ipynb")):
        shutil.copy2(notebook, dest / notebook.name)
    package = dest / STUDENT_PACKAGE.name
    shutil.copytree(STUDENT_PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    cases.write_if_changed(package / checks.VISIBLE_CASES.name, cases.visible())
    worked_examples.write(package / worked_examples.WORKED_EXAMPLES.name)
    (dest / "requirements.txt").write_text(student_requirements())
    if zip_path is False:
        return None
    zip_path = Path(zip_path or dest.parent / f"{ZIP_NAME}.zip")
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(dest.rglob("*")):
            archive.write(path, Path(ZIP_NAME) / path.relative_to(dest))
    return zip_path


def update_working_copy(handout, folder):
    """Copy every file of ``handout`` into ``folder``, except the notebooks ``folder`` already has (its work)."""
    handout, folder = Path(handout), Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted(handout.rglob("*")):
        target = folder / source.relative_to(handout)
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif not (source.suffix == ".ipynb" and target.exists()):
            shutil.copy2(source, target)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", nargs="?", type=Path, default=HANDOUT, help="folder to write the hand-out to")
    parser.add_argument("--working-copy", type=Path, help="a folder to update from the hand-out, keeping its notebooks")
    args = parser.parse_args(argv)
    zip_path = build(args.dest)
    if args.working_copy:
        update_working_copy(args.dest, args.working_copy)
    files = sorted(str(p.relative_to(args.dest)) for p in args.dest.rglob("*") if p.is_file())
    print(f"Hand-out written to {args.dest} ({len(files)} files) and {zip_path} ({zip_path.stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main()
