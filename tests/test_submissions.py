"""Taking in submissions: folders, LMS zips (folder per student, Canvas-style flat names), broken files."""

import json
import zipfile

import nbformat
import pytest

from autograder.release import ASSIGNMENT
from autograder.submissions import copy_repaired, read_folder, read_zip, repaired
from reference import NOTEBOOKS

NAMES = ["01_convolution", "02_max_pooling"]


def notebook_text(name="01_convolution"):
    return (NOTEBOOKS / f"{name}.ipynb").read_text()


def test_folder_with_a_missing_an_unreadable_and_a_good_notebook(tmp_path):
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "01_convolution.ipynb").write_text(notebook_text()[:500])
    (tmp_path / "bob").mkdir()
    (tmp_path / "bob" / "02_max_pooling.ipynb").write_text(notebook_text("02_max_pooling"))
    (tmp_path / "cy").mkdir()
    (tmp_path / "cy" / "01_convolution.ipynb").write_text(json.dumps({"not": "a notebook"}))
    ada, bob, cy = read_folder(tmp_path, NAMES)
    assert (ada.student_id, list(ada.unreadable), ada.missing) == ("ada", ["01_convolution"], ["02_max_pooling"])
    assert "NotJSONError" in ada.unreadable["01_convolution"]
    assert (list(bob.notebooks), bob.missing) == (["02_max_pooling"], ["01_convolution"])
    assert list(cy.unreadable) == ["01_convolution"]


@pytest.mark.parametrize("layout", ["folders", "canvas"])
def test_lms_zip_is_collected_per_student(tmp_path, layout):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for student in ("ada", "bob"):
            for name in NAMES:
                path = (f"export/{student}/{name}.ipynb" if layout == "folders"
                        else f"{student}_{1000 + len(student)}_{42}_{name}.ipynb")
                zf.writestr(path, notebook_text(name))
    submissions = read_zip(archive, tmp_path / "course", ASSIGNMENT, NAMES)
    assert [(s.student_id, sorted(s.notebooks), s.missing) for s in submissions] == [
        ("ada", NAMES, []), ("bob", NAMES, [])]


def test_a_copied_cell_is_kept_as_ordinary_code_and_ids_are_made_unique(tmp_path):
    notebook = json.loads(notebook_text())
    solution = next(i for i, c in enumerate(notebook["cells"]) if c["metadata"].get("nbgrader", {}).get("solution"))
    notebook["cells"].insert(solution + 1, json.loads(json.dumps(notebook["cells"][solution])))
    (tmp_path / "ada").mkdir()
    (tmp_path / "ada" / "01_convolution.ipynb").write_text(json.dumps(notebook))
    (submission,) = read_folder(tmp_path, ["01_convolution"])
    out = tmp_path / "out"
    out.mkdir()
    copy_repaired(submission, out)
    fixed = nbformat.read(out / "01_convolution.ipynb", as_version=4)
    assert submission.repairs == ["01_convolution.ipynb: a copy of cell 'conv_layer' is graded as ordinary code"]
    assert "nbgrader" not in fixed.cells[solution + 1].metadata
    assert fixed.cells[solution + 1].source == fixed.cells[solution].source
    assert len({cell.id for cell in fixed.cells}) == len(fixed.cells)
    assert repaired(fixed) == []
