"""Every nbgrader path grades the kit's way: ``make grade``, the formgrader's Autograde button (through its HTTP API on
a real Jupyter server) and ``nbgrader autograde`` in the course folder write the same scores, statuses and review
flags, from the kit's verdicts; a TA's manual score survives them all; the feedback shows neither the hidden tests'
code nor their values (the command line's feedback is covered by test_grading_pipeline.py). The gradebook is in a
PostgreSQL server this module starts (GRADEBOOK=postgresql://...); the other grading tests use SQLite."""

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import grade as grading
from autograder import gradebook_reports, kit_autograde, kit_records, sample_class
from autograder.release import (ASSIGNMENT, COURSE_ROOT, SOLUTIONS, generate_assignment, graded_cells,
                                release_folder)
from autograder.sample_class import CONV, EXPECTED_FAILURES, POOL, TRAINING
from grading_helpers import POINTS, free_port, hidden_numbers, jupyter_server, postgres_server
from hostile_class import PATCHED_NUMPY, WRONG_POOL

TOKEN = "formgrader-test"
LATE = "original_post"  # handed in after the class was graded
DIES = "dies"  # its kernel dies after the (right) class cell has run: nbgrader drops its autograde on every path
STUDENTS = ["correct", "zeros", "patched", DIES]
PATHS = ["make grade", "formgrader", "nbgrader autograde"]
MANUAL = ("correct", POOL, "pool_forward", 1.5, "Well done; half a point off for the loops.")


def call(port, method, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or "null")


def _only_pool_notebook(release, folder, class_source):
    """A student who hands in notebook 02 only, with ``class_source`` as its class cell."""
    notebook = nbformat.read(release / f"{POOL}.ipynb", as_version=4)
    sample_class.solution_cell(notebook).source = class_source
    folder.mkdir(parents=True)
    nbformat.write(notebook, folder / f"{POOL}.ipynb")


@pytest.fixture(scope="module")
def gradebook():
    """A PostgreSQL gradebook for the whole module, named in $CNNKIT_GRADEBOOK as make's GRADEBOOK=... does."""
    with postgres_server() as url, pytest.MonkeyPatch.context() as patch:
        patch.setenv(kit_records.GRADEBOOK_VARIABLE, url)
        yield url


def environment(course):
    """The environment of the Jupyter server and of the command line: this Python's tools, and the gradebook."""
    bin_dir = Path(sys.executable).parent
    return {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(course),
            kit_records.GRADEBOOK_VARIABLE: os.environ[kit_records.GRADEBOOK_VARIABLE]}


@pytest.fixture(scope="module")
def course(tmp_path_factory, gradebook):
    """A copy of the course folder (configuration and hidden cases) and a class: correct (01 and 02; the late student
    hands in every notebook), all zeros (02 only), zeros behind patched numpy comparisons (02 only), a kernel that dies after
    the right class (02 only); the late student waits in late/."""
    root = tmp_path_factory.mktemp("formgrader")
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)  # its CourseDirectory.root is the folder it lies in
    shutil.copytree(COURSE_ROOT / "hidden", root / "hidden")
    release = generate_assignment(root)
    samples = sample_class.build(root / "samples", release)
    shutil.copytree(samples / "correct", root / "class" / "correct",
                    ignore=shutil.ignore_patterns(f"{TRAINING}.*", f"{sample_class.STACKING}.*"))
    _only_pool_notebook(release, root / "class" / "zeros", WRONG_POOL)
    _only_pool_notebook(release, root / "class" / "patched", PATCHED_NUMPY)
    _only_pool_notebook(release, root / "class" / DIES,
                        sample_class.class_sources("correct")["pool"] + "\nimport os\nos._exit(0)\n")
    shutil.copytree(samples / LATE, root / "late" / LATE)
    return root


@pytest.fixture(scope="module")
def server(course):
    port = free_port()
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "jupyter"), "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={course}"]
    with jupyter_server(command, port, TOKEN, course / "server.log", cwd=course, env=environment(course)):
        yield port


def gradebook_state(root):
    """{(student, notebook, grade_id): (auto score, manual score, needs manual grade)}, and {(student, notebook,
    cell name): manual comment}."""
    grades, comments = {}, {}
    with Gradebook(kit_records.database_url(root)) as gradebook:
        for submission in gradebook.assignment_submissions(ASSIGNMENT):
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grades[submission.student.id, notebook.name, grade.name] = (
                        grade.auto_score, grade.manual_score, grade.needs_manual_grade)
                for comment in notebook.comments:
                    comments[submission.student.id, notebook.name, comment.name] = comment.manual_comment
    return grades, comments


def kept_results(root):
    """{student: the kit's result kept for it} (autograder.kit_records)."""
    records = kit_records.Records(kit_records.database_url(root))
    try:
        return {student: fields for student, (_, fields) in records.load().items()}
    finally:
        records.close()


def summary(state, result):
    """What must not depend on the path: each test's points and review flag (not for the cell with a manual score:
    after any re-grading it is looked at again, as nbgrader does), the status and the review rows."""
    grades, _ = state
    return ({key[1:]: (auto, "manual score" if key == MANUAL[:3] else needs)
             for key, (auto, _, needs) in grades.items() if key[0] == result["student_id"]},
            result["status"], [tuple(row) for row in result["review"]])


def set_manual_score(port, root):
    """A TA's manual score and comment on one cell of MANUAL's student, through the formgrader's API."""
    student, notebook, grade_id, points, text = MANUAL
    with Gradebook(kit_records.database_url(root)) as gradebook:
        grade = gradebook.find_grade(grade_id, notebook, ASSIGNMENT, student)
        comment = gradebook.find_comment(sample_class.solution_cell(
            nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)).metadata.nbgrader.grade_id, notebook,
            ASSIGNMENT, student)
        grade_key, comment_key = grade.id, comment.id
    call(port, "PUT", f"/formgrader/api/grade/{grade_key}", {"manual_score": points})
    call(port, "PUT", f"/formgrader/api/comment/{comment_key}", {"manual_comment": text})


@pytest.fixture(scope="module")
def paths(course, server):
    """Grade the class with make grade, set a manual score, autograde the late student in the formgrader, then grade
    the class again with the formgrader's Autograde, then with `nbgrader autograde`. Returns {stage: (gradebook
    state, kept results)} and {student: the seconds its Autograde in the formgrader took}."""
    stages = {}
    results = grading.grade(course / "class", course_root=course, reports_dir=course / "reports", progress=False)
    kept = kept_results(course)
    stages["make grade"] = (gradebook_state(course), {result.student_id: kept[result.student_id] for result in results})
    set_manual_score(server, course)
    stages["manual score"] = (gradebook_state(course), kept_results(course))
    shutil.copytree(course / "late" / LATE, course / "submitted" / LATE / ASSIGNMENT)  # what `nbgrader collect` does
    seconds = {}

    def autograde(student):
        started = time.perf_counter()
        outcome = call(server, "POST", f"/formgrader/api/submission/{ASSIGNMENT}/{student}/autograde")
        assert outcome["success"] == (student != DIES), outcome
        seconds.setdefault(student, time.perf_counter() - started)

    autograde(LATE)
    stages["late"] = (gradebook_state(course), kept_results(course))
    for student in STUDENTS:
        autograde(student)
    stages["formgrader"] = (gradebook_state(course), kept_results(course))
    bin_dir = Path(sys.executable).parent
    run = subprocess.run([str(bin_dir / "nbgrader"), "autograde", ASSIGNMENT, "--force",
                          f"--CourseDirectory.student_id_exclude={LATE}"], cwd=course, env=environment(course),
                         capture_output=True, text=True)
    failed = set(re.findall(r"There was an error processing assignment '\w+' for student '(\w+)'", run.stderr))
    assert failed == {DIES}, run.stderr[-3000:]
    stages["nbgrader autograde"] = (gradebook_state(course), kept_results(course))
    return stages, seconds


@pytest.mark.parametrize("student", STUDENTS)
def test_every_path_writes_the_same_scores_statuses_and_review_rows(paths, student):
    stages, _ = paths
    found = {path: summary(stages[path][0], stages[path][1][student]) for path in PATHS}
    assert found["formgrader"] == found["make grade"]
    assert found["nbgrader autograde"] == found["make grade"]
    assert stages["nbgrader autograde"][1][student]["graded_by"] == "nbgrader autograde"
    assert stages["make grade"][1][student]["graded_by"] == "make grade"


def test_a_kernel_that_dies_after_the_right_class_earns_the_kits_verdicts_on_every_path(paths):
    """nbgrader drops the whole autograde of a student whose notebook it could not run; the kit's verdicts of the
    class (defined before the kernel died) are written all the same, with the status, as make grade does."""
    stages, _ = paths
    for path in PATHS:
        (grades, _), kept = stages[path]
        assert kept[DIES]["status"] == "kernel died", path
        assert kept[DIES]["graded_by"] == ("make grade" if path == "make grade" else "nbgrader autograde"), path
        assert {key[2]: auto for key, (auto, *_) in grades.items() if key[:2] == (DIES, POOL)} == POINTS[POOL], path


def test_patched_numpy_earns_no_more_than_zeros_on_any_path(paths):
    stages, _ = paths
    for path in PATHS:
        (grades, _), kept = stages[path]
        total = {student: sum(auto for key, (auto, *_) in grades.items() if key[0] == student)
                 for student in ["zeros", "patched", "correct"]}
        assert total["patched"] <= total["zeros"] == 0 < total["correct"] == sum(POINTS[CONV].values()) + sum(
            POINTS[POOL].values()), path
        assert kept["patched"]["review"], f"{path}: nbgrader's fooled in-kernel tests are listed for review"


def test_a_manual_score_and_comment_survive_every_path(paths):
    stages, _ = paths
    student, notebook, grade_id, points, text = MANUAL
    for path in ["manual score", "late", "formgrader", "nbgrader autograde"]:
        (grades, comments), _ = stages[path]
        assert grades[student, notebook, grade_id][1] == points, path
        assert text in {comment for key, comment in comments.items() if key[0] == student}, path


def test_the_late_students_autograde_changes_nobody_elses_grades(paths):
    stages, seconds = paths
    before, after = stages["manual score"][0], stages["late"][0]
    assert [{key: row for key, row in table.items() if key[0] != LATE} for table in after] == list(before)
    late = {key[2]: auto for key, (auto, *_) in after[0].items() if key[0] == LATE}
    points = {grade_id: max_points for cells in graded_cells().values() for grade_id, max_points in cells}
    assert late == {g: 0.0 if g in EXPECTED_FAILURES[LATE] else points[g] for g in points}
    assert stages["late"][1][LATE]["graded_by"] == "nbgrader autograde"
    print("The formgrader's Autograde took " + ", ".join(f"{s:.1f} s for {student}" for student, s in seconds.items()))


def set_auto_score(root, student, grade_id, points):
    with Gradebook(kit_records.database_url(root)) as gradebook:
        gradebook.find_grade(grade_id, POOL, ASSIGNMENT, student).auto_score = points
        gradebook.db.commit()


def test_every_autograder_score_in_the_gradebook_is_the_kits_verdict(course, paths):
    url = kit_records.database_url(course)
    assert len(gradebook_state(course)[0]) == 5 * sum(len(cells) for cells in graded_cells().values())
    assert kit_autograde.scores_not_from_the_kit(url) == []
    set_auto_score(course, "patched", "pool_forward", 2.0)  # what nbgrader's own SaveAutoGrades gave it
    try:
        assert kit_autograde.scores_not_from_the_kit(url) == [("patched", POOL, "pool_forward", 2.0, 0.0)]
    finally:
        set_auto_score(course, "patched", "pool_forward", 0.0)


def test_the_reports_from_the_gradebook_hold_every_student_and_who_graded_them(course, paths, capsys):
    assert gradebook_reports.main(["--course-root", str(course), "--reports", str(course / "all-reports")]) == 0
    with open(course / "all-reports" / "grades.csv") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert sorted(rows) == sorted([*STUDENTS, LATE])
    assert {row["graded_by"] for row in rows.values()} == {"nbgrader autograde"}
    lost = sum(points for cells in graded_cells().values() for grade_id, points in cells
               if grade_id in EXPECTED_FAILURES[LATE])
    assert rows[LATE]["total"] == f"{sum(points for cells in graded_cells().values() for _, points in cells) - lost:g}"
    assert rows["correct"]["total"] == "16.5"  # the TA's manual score counts
    assert "Warning" not in capsys.readouterr().out


def test_formgrader_feedback_keeps_the_hidden_tests_out(course, paths, server):
    assert call(server, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/{LATE}/generate_feedback")["success"]
    pages = list((course / "feedback" / LATE / ASSIGNMENT).glob("*.html"))
    html = "\n".join(path.read_text() for path in pages)
    assert len(pages) == len(list(SOLUTIONS.glob("*.ipynb")))
    assert "hidden case" in html  # the hidden tests ran, and say so in words
    assert "HIDDEN TESTS" not in html and "hidden_tests.run" not in html
    assert not set(re.findall(r"-?\d+\.\d+(?:e[+-]\d+)?", html)) & hidden_numbers()
    released = sorted(path.name for path in release_folder(course).rglob("*") if path.is_file())
    assert all(name.endswith(".ipynb") for name in released)
