"""End to end: the sample class through the whole grading pipeline, scores asserted exactly.

The pipeline runs once for the module (about 20 s per student on 2 cores); the tests read what it left:
the returned results, grades.csv, tests.csv, the class report and every student's feedback HTML.
"""

import csv
import json
import re
import shutil

import pytest
from nbgrader.api import Gradebook

from autograder import grade as grading
from autograder import feedback, sample_class, teaching_cells
from autograder.release import ASSIGNMENT, COURSE_ROOT, release_folder
from autograder.sample_class import CONV, EXPECTED_BROKEN, EXPECTED_FAILURES, POOL, STACKING, TRAINING
from grading_helpers import POINTS, hidden_numbers

FULL = {notebook: sum(points.values()) for notebook, points in POINTS.items()}
# The phrase of the diagnosis that each student's feedback must contain.
FEEDBACK_NAMES_THE_MISTAKE = {
    "flipped_kernel": ["what a true convolution gives"],
    "output_at_input_index": ["not the input index i"],
    "backward_ignores_stride": ["the gradient ignores the stride"],
    "gradient_averaged_over_batch": ["averaged over the batch"],
    "gradient_to_every_tied_max": ["every tied maximum"],
    "average_pooling": ["this is average pooling"],
    "original_post": ["not the input index i", ".squeeze()", "the gradient goes to every tied maximum"],
    "padding_on_output": ["the padding is applied to the output"],
    "overlapping_gradients_replaced": ["must receive the SUM of their gradients"],
}
ENDLESS, CRASHING = "endless_loop", "kernel_dies"


@pytest.fixture(scope="module")
def graded(tmp_path_factory, monkeypatch_module, course_copy):
    """Grade the sample class plus an endless and a crashing submission (01 right, 02 broken, nothing else handed
    in); returns (results by id, course root). The endless loop sleeps (the same time limit stops it;
    test_hostile_grading.py has loops that keep a core busy)."""
    root = tmp_path_factory.mktemp("course")
    monkeypatch_module.setenv("CNNKIT_CELL_TIMEOUT", "20")
    class_dir = sample_class.build(root / "class", course_copy(root))
    for student, code in [(ENDLESS, "import time\nwhile True:\n    time.sleep(1)\n"),
                          (CRASHING, "import os\nos._exit(1)\n")]:
        (class_dir / student).mkdir()
        for path in [class_dir / "correct" / f"{CONV}.ipynb", class_dir / "correct" / f"{POOL}.ipynb"]:
            notebook = json.loads(path.read_text())
            if path.stem == POOL:
                (cell,) = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
                cell["source"] = code
            (class_dir / student / path.name).write_text(json.dumps(notebook))
    results = grading.grade(class_dir, course_root=root, reports_dir=root / "reports", progress=False)
    return {result.student_id: result for result in results}, root


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def earned(result):
    return {grade_id: points for _, grade_id, points, _ in result.tests}


@pytest.mark.parametrize("student", sorted(EXPECTED_FAILURES))
def test_each_sample_student_loses_exactly_the_points_of_the_tests_it_should_fail(graded, student):
    result = graded[0][student]
    assert result.status == "graded", result.notes
    expected = {grade_id: 0 if grade_id in EXPECTED_FAILURES[student] else points
                for cells in POINTS.values() for grade_id, points in cells.items()}
    assert earned(result) == expected


def test_correct_gets_full_marks_and_release_zero(graded):
    results, _ = graded
    assert results["correct"].scores == FULL == {CONV: 10, POOL: 7, TRAINING: 3, STACKING: 18}
    assert sum(results["untouched_release"].scores.values()) == 0


@pytest.mark.parametrize("student", sorted(EXPECTED_BROKEN))
def test_a_broken_file_costs_only_its_notebook(graded, student):
    result = graded[0][student]
    broken, status = EXPECTED_BROKEN[student]
    assert result.status == status
    assert result.scores == {**FULL, broken: 0, TRAINING: 0}


def test_an_endless_loop_times_out_and_the_other_notebook_still_counts(graded):
    result = graded[0][ENDLESS]
    assert result.status == "timed out"
    assert result.scores == {CONV: 10, POOL: 0, TRAINING: 0, STACKING: 0}


def test_a_dying_kernel_is_recorded_and_keeps_the_points_of_the_other_notebook(graded):
    results, _ = graded
    assert results[CRASHING].status == "kernel died"
    assert results[CRASHING].scores == {CONV: 10, POOL: 0, TRAINING: 0, STACKING: 0}
    assert results["correct"].scores == FULL


def test_nbgrader_and_the_kit_agree_on_every_honest_submission(graded):
    """The kit's verdict (outside the kernel, on the secret cases) and nbgrader's in-kernel tests agree for the
    whole sample class: nothing is flagged for review."""
    results, root = graded
    assert {student: result.review for student, result in results.items() if result.review} == {}
    with open(root / "reports" / "review.csv") as file:
        assert list(csv.DictReader(file)) == []


def test_the_gradebook_holds_the_points_of_the_reports(graded):
    """Every graded cell's score in nbgrader's gradebook is the kit's points, for every student."""
    results, root = graded
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student, result in results.items():
            for notebook, grade_id, points, _ in result.tests:
                assert gradebook.find_grade(grade_id, notebook, ASSIGNMENT, student).score == points, (student, grade_id)


def test_grading_again_keeps_the_results_of_unchanged_submissions(graded):
    """Re-running on part of the class, in the same course folder, changes nothing for those students: they are kept
    as they were. (Graded again, a submission gets the same result: the forced run of the last test below, and
    test_formgrader.py on every path.)"""
    results, root = graded
    again_dir = root / "again"
    for student in ("missing_notebook", "original_post"):
        shutil.copytree(root / "class" / student, again_dir / student)
    kept = grading.grade(again_dir, course_root=root, reports_dir=root / "reports-kept", progress=False)
    assert [result.unchanged for result in kept] == [True, True]
    for result in kept:
        first = results[result.student_id]
        assert (result.status, result.scores, result.tests) == (first.status, first.scores, first.tests)


def test_grades_csv_has_exactly_the_documented_columns_and_a_row_per_student(graded):
    results, root = graded
    with open(root / "reports" / "grades.csv") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["student_id", "status", "total", "max_total", f"{CONV}_score", f"{CONV}_max",
                             f"{POOL}_score", f"{POOL}_max", f"{TRAINING}_score", f"{TRAINING}_max",
                             f"{STACKING}_score", f"{STACKING}_max", "graded_by"]
    assert sorted(row["student_id"] for row in rows) == sorted(results)
    correct = next(row for row in rows if row["student_id"] == "correct")
    full = {notebook: f"{total:g}" for notebook, total in FULL.items()}
    assert correct == {"student_id": "correct", "status": "graded", "total": f"{sum(FULL.values()):g}",
                       "max_total": f"{sum(FULL.values()):g}", **{f"{nb}_{column}": full[nb] for nb in FULL
                                                                  for column in ("score", "max")},
                       "graded_by": "make grade"}


def test_tests_csv_has_one_row_per_student_and_graded_cell(graded):
    results, root = graded
    with open(root / "reports" / "tests.csv") as file:
        rows = list(csv.DictReader(file))
    assert list(rows[0]) == ["student_id", "notebook", "grade_id", "points", "max_points", "scored_by"]
    assert len(rows) == len(results) * sum(map(len, POINTS.values())) and {row["scored_by"] for row in rows} == {"kit"}
    post = {row["grade_id"]: row["points"] for row in rows if row["student_id"] == "original_post"}
    assert post["conv_forward_stride1"] == "2" and post["conv_forward_strided"] == "0"


def test_class_report_is_written(graded):
    report = graded[1] / "reports" / "class_report.png"
    assert report.stat().st_size > 10_000


def feedback_html(root, student):
    return "\n".join(path.read_text() for path in sorted((root / "feedback" / student / ASSIGNMENT).glob("*.html")))


@pytest.mark.parametrize("student", sorted(FEEDBACK_NAMES_THE_MISTAKE))
def test_feedback_names_the_mistake(graded, student):
    html = feedback_html(graded[1], student)
    for phrase in FEEDBACK_NAMES_THE_MISTAKE[student]:
        assert phrase.replace("'", "&#39;") in html


def feedback_page(root, student, notebook):
    return (root / "feedback" / student / ASSIGNMENT / f"{notebook}.html").read_text()


def test_each_feedback_page_opens_with_its_tests_by_name_their_points_and_the_first_thing_to_fix(graded):
    page = feedback_page(graded[1], "flipped_kernel", CONV)
    summary = page[page.index('<table class="cnnkit-summary"'):page.index('id="notebook"')]
    rows = re.findall(r'<a href="#(\w+)">[^<]*</a></td>\s*<td class="points">([^<]*)</td>', summary)
    assert [(grade_id, " ".join(points.split())) for grade_id, points in rows] == [
        (grade_id, f"{0.0 if grade_id in EXPECTED_FAILURES['flipped_kernel'] else points:.1f} / {points:.1f}")
        for grade_id, points in POINTS[CONV].items()]
    assert ">Check 2: forward, stride 1</a>" in summary  # the test's heading, without its points
    assert "First thing to fix" in summary and "what a true convolution gives" in summary
    assert "First thing to fix" not in feedback_page(graded[1], "correct", CONV)


def test_feedback_pages_read_offline_to_the_end(graded):
    """Maths as MathML (no script, no network), long lines wrapped, a note made by many cases said once."""
    page = feedback_page(graded[1], "flipped_kernel", CONV)
    assert "<script" not in page and "cdnjs" not in page  # nbgrader's header would load MathJax from a CDN
    body = page[page.index('id="notebook"'):]
    assert body.count("<math") > 50 and "$$" not in body
    assert "white-space: pre-wrap" in page
    assert body.count("your forward is probably wrong") == 4  # once per set of cases (visible, hidden) of 2 checks


def test_feedback_never_shows_hidden_test_code_or_values(graded):
    results, root = graded
    numbers = hidden_numbers()
    for student in results:
        html = feedback_html(root, student)
        if student not in EXPECTED_BROKEN:
            assert "hidden case" in html or student in (CRASHING,), student  # the hidden tests did run
        assert "HIDDEN TESTS" not in html and "hidden_tests.run" not in html
        shown = set(re.findall(r"-?\d+\.\d+(?:e[+-]\d+)?", html)) & numbers
        assert not shown, f"{student}: hidden values in the feedback: {sorted(shown)[:5]}"


def test_feedback_folder_holds_only_the_html_pages(graded):
    results, root = graded
    for student in results:
        files = [path for path in (root / "feedback" / student).rglob("*") if path.is_file()]
        assert all(path.suffix == ".html" for path in files), student


def test_release_holds_only_the_notebooks(graded):
    root = graded[1]
    files = sorted(path.name for path in release_folder(root).rglob("*") if path.is_file())
    assert files == [f"{CONV}.ipynb", f"{POOL}.ipynb", f"{TRAINING}.ipynb", f"{STACKING}.ipynb"]


def test_feedback_past_its_time_limit_becomes_plain_text_pages_that_keep_the_points(graded):
    """Rendering runs in a process that is killed at the limit; the student then gets plain-text pages with their
    points (built again in full afterwards, for the other tests)."""
    results, root = graded
    api, tests = grading.make_api(root), results["correct"].tests
    try:
        reason = feedback.generate(api, root, "correct", [CONV, POOL, TRAINING], tests, timeout=0.01)
        assert reason.startswith(feedback.TOO_SLOW_REASON)
        page = (root / "feedback" / "correct" / ASSIGNMENT / f"{POOL}.html").read_text()
        assert "Score: 7 / 7" in page and "pool_backward_ties: 2 / 2" in page and "<script" not in page
    finally:
        assert feedback.generate(api, root, "correct", [CONV, POOL, TRAINING], tests) is None


def test_the_page_that_warms_up_each_grading_process_renders_with_the_courses_feedback_settings():
    """feedback.warm_up renders it before the first student's pages and ignores a failure (only a speed-up): it must
    render, else every feedback child fills the caches again."""
    page = feedback.warm_up_page(grading.make_api(COURSE_ROOT).config)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", re.sub(r"<style.*?</style>", "", page, flags=re.S)))
    assert "01_convolution: 0.0 of 0.0 points" in text and "A convolution layer from scratch" in text


def test_the_feedback_says_which_cells_were_not_run_for_grading(graded):
    """Grading skips the cells that only teach (autograder/teaching_cells.py); each says so in the feedback."""
    _, root = graded
    for notebook in (CONV, POOL, TRAINING):
        page = (root / "feedback" / "correct" / ASSIGNMENT / f"{notebook}.html").read_text()
        expected = len(teaching_cells.teaching_grade_ids(notebook))
        assert page.count("Not run for grading") == expected > 0, notebook


def reported_tests(reports, student):
    with open(reports / "tests.csv") as file:
        return {row["grade_id"]: (row["points"], row["scored_by"]) for row in csv.DictReader(file)
                if row["student_id"] == student}


def test_a_re_run_grades_only_new_or_changed_submissions_and_never_loses_a_persons_scores(graded):
    """A TA gives a manual score and a comment (nbgrader's Gradebook API, as the formgrader does); a late student
    arrives; make grade runs again, then again with --force, then after the late student changed a notebook. Only
    new or changed submissions are graded unless forced, and the manual score and the comment survive every run;
    the reports count the manual score and say whose it is."""
    _, root = graded  # the last test of the module: the manual score changes what the tests above read
    folder = root / "rerun"
    shutil.copytree(root / "class" / "correct", folder / "correct")  # graded with the class: unchanged
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        gradebook.find_grade("conv_views", CONV, ASSIGNMENT, "correct").manual_score = 0.5
        comment = gradebook.find_comment("conv_layer", CONV, ASSIGNMENT, "correct")
        comment.manual_comment = "Nice generator; mind the docstring."
        gradebook.db.commit()
    shutil.copytree(root / "class" / "flipped_kernel", folder / "late_student",  # 01 and 02: no training to wait for
                    ignore=shutil.ignore_patterns(f"{TRAINING}.ipynb", f"{STACKING}.ipynb"))

    def check(results, regraded, reports):
        assert {r.student_id: not r.unchanged for r in results} == regraded
        reviewed = next(r for r in results if r.student_id == "correct")
        assert reviewed.manual == {"conv_views": (0.5, 1.0)} and reviewed.scores[CONV] == 9.5
        assert any("conv_views: 0.5 set by a person" in note for note in reviewed.notes)
        assert reported_tests(reports, "correct")["conv_views"] == ("0.5", "person")
        assert reported_tests(reports, "correct")["conv_forward_stride1"] == ("2", "kit")
        with open(reports / "grades.csv") as file:
            assert {row["student_id"]: row["total"] for row in csv.DictReader(file)}["correct"] == "37.5"
        with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
            assert gradebook.find_grade("conv_views", CONV, ASSIGNMENT, "correct").manual_score == 0.5
            assert gradebook.find_comment("conv_layer", CONV, ASSIGNMENT, "correct").manual_comment == \
                "Nice generator; mind the docstring."

    first = grading.grade(folder, course_root=root, reports_dir=root / "r1", progress=False)
    check(first, {"correct": False, "late_student": True}, root / "r1")
    forced = grading.grade(folder, course_root=root, reports_dir=root / "r2", progress=False, force=True)
    check(forced, {"correct": True, "late_student": True}, root / "r2")
    assert [(r.status, r.tests, r.review) for r in forced] == [(r.status, r.tests, r.review) for r in first]
    changed = json.loads((folder / "late_student" / f"{POOL}.ipynb").read_text())
    changed["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "Done!", "id": "late-note"})
    (folder / "late_student" / f"{POOL}.ipynb").write_text(json.dumps(changed))
    check(grading.grade(folder, course_root=root, reports_dir=root / "r3", progress=False),
          {"correct": False, "late_student": True}, root / "r3")
