"""Grade a class: ``python -m autograder.grade SUBMISSIONS [--force]`` (what ``make grade`` runs).

SUBMISSIONS is a folder ``<student_id>/<notebook>.ipynb`` or an LMS export zip. Students whose submission is
unchanged since their last grading keep that result (:mod:`autograder.kit_records`; ``--force`` grades everyone).
For every other student: add them to nbgrader's gradebook and autograde (every kernel in the sandbox, see
:mod:`autograder.sandbox`; the cells that only teach are not run, see :mod:`autograder.teaching_cells`); meanwhile,
compute the kit's own verdict on every graded test from the outputs of the student's code on the hidden inputs
(:mod:`autograder.verdict`); write those points into the gradebook as the autograder scores, flagging every test
where nbgrader's in-kernel result disagreed; generate the feedback HTML. Then count the manual scores a person set,
write autograder/reports/grades.csv, tests.csv, review.csv, seconds.csv and class_report.png, and print one row per
student. A bad submission is recorded with its status and never stops the others; the exit status is non-zero only
when the kit itself failed.
"""

import argparse
import dataclasses
import multiprocessing
import os
import shutil
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader
from tqdm.auto import tqdm

from autograder import feedback, kit_records, reports, sandbox, stages, verdict
from autograder.hidden_cases import HIDDEN_CASES
from autograder.release import ASSIGNMENT, COURSE_ROOT, SOLUTIONS, generate_assignment
from autograder.runner import harvest
from autograder.submissions import copy_repaired, is_safe_student_id, read_folder, read_zip

# Statuses, worst first: a student's status is the worst thing that happened to any notebook.
STATUSES = ["grader error", "invalid student id", "kernel died", "timed out", "nbgrader failed", "unreadable notebook",
            "missing notebook", "feedback too slow to render", "graded"]


@dataclass
class StudentResult:
    """One row of the grade table."""

    student_id: str
    status: str = "graded"
    notes: list = field(default_factory=list)  # human-readable reasons, one per problem
    scores: dict = field(default_factory=dict)  # notebook -> points earned
    tests: list = field(default_factory=list)  # (notebook, grade_id, points, max_points)
    review: list = field(default_factory=list)  # (notebook, grade_id, kit points, nbgrader points, kit's reason)
    seconds: dict = field(default_factory=dict)  # stage -> seconds spent on this student (see autograder.stages)
    manual: dict = field(default_factory=dict)  # grade_id -> (a person's manual score, the kit's points)
    unchanged: bool = False  # the same submission as at the last run: its result was kept, not graded again

    @classmethod
    def from_fields(cls, fields):
        """A result back from :func:`dataclasses.asdict`'s fields (as kept in autograder.kit_records)."""
        fields = {**fields, "tests": [tuple(test) for test in fields["tests"]],
                  "review": [tuple(row) for row in fields["review"]], "manual": {}}
        return cls(**fields)

    def earn_nothing(self, graded_cells):
        """Zero points for every graded test (a submission that cannot be graded, or a failure of the kit)."""
        self.tests = [(nb, grade_id, 0.0, points) for nb, cells in graded_cells.items() for grade_id, points in cells]
        self.scores = {notebook: 0.0 for notebook in graded_cells}

    def worsen(self, status, note):
        """Record a problem; keep the worst status."""
        self.notes.append(note)
        self._keep_worse(status)

    def absorb(self, other):
        """Take the verdicts, points, review rows and notes of ``other`` (computed beside this one), and the worse
        status."""
        self.tests, self.scores, self.review = other.tests, other.scores, self.review + other.review
        self.notes += other.notes
        self._keep_worse(other.status)

    def _keep_worse(self, status):
        if STATUSES.index(status) < STATUSES.index(self.status):
            self.status = status


def make_api(course_root):
    """An nbgrader API object configured by the course's nbgrader_config.py, rooted at ``course_root``."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    config.CourseDirectory.root = str(course_root)
    return NbGraderAPI(config=config)


def timed_out(autograded_notebook):
    """Whether a cell of the autograded notebook was stopped at the time limit."""
    notebook = nbformat.read(autograded_notebook, as_version=4)
    return any(output.get("ename") == "CellTimeoutError" for cell in notebook.cells for output in cell.get("outputs", []))


def _autograde(api, course_root, submission, result):
    """nbgrader's autograde of one student (kernels in the sandbox); True if it finished."""
    with stages.timed("notebook execution", besides="kernel starts"):
        outcome = api.autograde(ASSIGNMENT, submission.student_id, force=True, create=True)
    if not outcome["success"]:
        text = outcome.get("log", "") + outcome.get("error", "")
        if "DeadKernelError" in text or "Kernel died" in text or "kernel died" in text:
            result.worsen("kernel died", "nbgrader: the kernel died while running the notebooks (crash, memory, or "
                                         "the notebook time limit); no feedback")
        elif "CellTimeoutError" in text:  # e.g. a cell that ignores the interrupt, or whose output does not end
            result.worsen("timed out", "nbgrader: a cell ran past the time limit and could not be stopped, or its "
                                       "output did not end; no feedback")
        else:
            last = ((outcome.get("error") or "autograde failed").strip().splitlines() or ["autograde failed"])[-1]
            result.worsen("nbgrader failed", f"nbgrader could not autograde: {last[:200]}; no feedback")
        return False
    autograded = Path(course_root) / "autograded" / submission.student_id / ASSIGNMENT
    for name in submission.notebooks:
        if timed_out(autograded / f"{name}.ipynb"):
            result.worsen("timed out", f"nbgrader: a cell of {name}.ipynb ran past the time limit")
    return True


def _judge(submitted, submission, graded_cells, hidden, result):
    """The kit's verdicts on every graded test, as result.tests; returns {grade_id: reason} of the failed ones."""
    with stages.timed("verdicts", besides="training"):
        return _judge_all(submitted, submission, graded_cells, hidden, result)


def _judge_all(submitted, submission, graded_cells, hidden, result):
    notebooks = [submitted / f"{name}.ipynb" for name in submission.notebooks]
    verdicts = {}
    for notebook, cells in graded_cells.items():
        grade_ids = [grade_id for grade_id, _ in cells]
        if notebook not in submission.notebooks:
            verdicts.update({g: verdict.TestVerdict(False, f"{notebook}.ipynb not graded") for g in grade_ids})
            continue
        judged = verdict.judge_notebook(grade_ids, hidden, notebooks, layer_tests=verdicts)
        verdicts.update(judged.tests)
        for description in judged.timed_out:
            result.worsen("timed out", f"kit: {description}")
        for description in judged.crashed:
            result.worsen("kernel died", f"kit: {description}")
        result.notes += [f"kit: {description} (what needs it fails)" for description in judged.cell_errors]
    for notebook, cells in graded_cells.items():
        for grade_id, max_points in cells:
            result.tests.append((notebook, grade_id, max_points if verdicts[grade_id].passed else 0.0, max_points))
        result.scores[notebook] = sum(points for nb, _, points, _ in result.tests if nb == notebook)
    for file_name, class_name in harvest.CLASSES.values():
        notebook = Path(file_name).stem
        if notebook in submission.notebooks and (names := verdict.borrowed_code(submitted / file_name)):
            result.review.append((notebook, class_name, result.scores[notebook], None,
                                  f"the code of {class_name} uses {', '.join(names)}: a library may compute the "
                                  "outputs (points kept; look at it)"))
    return {grade_id: v.reason for grade_id, v in verdicts.items() if not v.passed}


def _disagreement(points, nbgrader_points, reason):
    """What a disagreement between the kit's verdict and nbgrader's in-kernel test points at."""
    if points < nbgrader_points:
        return (f"{reason}. nbgrader's in-kernel test passed: something in the kernel changed what the test saw "
                "(tampering), or the kit ran the student's code differently (a bug of the kit: report it)")
    return ("the kit's verdict passed; nbgrader's in-kernel test failed: the notebook's run in the kernel went wrong "
            "(see the status and notes: a time limit, a crash), or the test cell was changed")


def record_in_gradebook(course_root, result, reasons):
    """Write the kit's points into nbgrader's gradebook as each cell's autograder score. Where nbgrader's own
    (in-kernel) score differs, the cell is marked as needing a manual grade in the formgrader, and the test is listed
    in ``result.review``. Manual scores are a person's: never written here (nbgrader counts them instead of the
    autograder score, and so do the reports)."""
    with Gradebook(kit_records.database_url(course_root)) as gradebook:
        gradebook.update_or_create_student(result.student_id)
        try:
            gradebook.find_submission(ASSIGNMENT, result.student_id)
        except MissingEntry:
            gradebook.add_submission(ASSIGNMENT, result.student_id)
        for notebook, grade_id, points, _ in result.tests:
            grade = gradebook.find_grade(grade_id, notebook, ASSIGNMENT, result.student_id)
            disagrees = grade.auto_score is not None and abs(grade.auto_score - points) > 1e-9
            if disagrees:
                result.review.append((notebook, grade_id, points, grade.auto_score,
                                      _disagreement(points, grade.auto_score, reasons.get(grade_id, ""))))
            grade.auto_score = points
            grade.needs_manual_grade = disagrees or grade.manual_score is not None  # as nbgrader does on re-grading
        gradebook.db.commit()
    for notebook, grade_id, points, auto, reason in result.review:
        result.notes.append(f"review {notebook}: {grade_id}: " + (reason if auto is None else
                            f"nbgrader's in-kernel test gave {auto:g}, the kit's verdict {points:g} (the kit's counts)"))


def grade_student(api, course_root, submission, graded_cells, hidden):
    """Autograde, judge and give feedback to one student; never raises for a bad submission."""
    result = StudentResult(submission.student_id)
    if not is_safe_student_id(submission.student_id):
        result.worsen("invalid student id", "student folder names may use letters, digits and . - _ @ only")
        result.earn_nothing(graded_cells)
        return result
    for name in submission.missing:
        result.worsen("missing notebook", f"{name}.ipynb was not handed in")
    for name, reason in submission.unreadable.items():
        result.worsen("unreadable notebook", f"{name}.ipynb is not a readable notebook ({reason})")
    with stages.timed("intake"):
        submitted = Path(course_root) / "submitted" / submission.student_id / ASSIGNMENT
        shutil.rmtree(submitted.parent, ignore_errors=True)
        submitted.mkdir(parents=True)
        copy_repaired(submission, submitted)
        result.notes += submission.repairs
    # The kit's verdicts (their own sandboxed processes) are computed while nbgrader runs the notebooks: the two
    # wait on different processes, and the cores stay busy.
    kit = StudentResult(submission.student_id)
    with ThreadPoolExecutor(max_workers=1) as beside:
        judging = beside.submit(_judge, submitted, submission, graded_cells, hidden, kit)
        autograded = bool(submission.notebooks) and _autograde(api, course_root, submission, result)
        reasons = judging.result()
    result.absorb(kit)
    if not autograded:
        shutil.rmtree(Path(course_root) / "autograded" / submission.student_id, ignore_errors=True)
    with stages.timed("gradebook"):
        record_in_gradebook(course_root, result, reasons)
    if autograded:
        with stages.timed("feedback"):
            problem = feedback.generate(api, course_root, submission.student_id, submission.notebooks, result.tests)
        if problem and problem.startswith(feedback.TOO_SLOW_REASON):
            result.worsen("feedback too slow to render", f"feedback: plain-text pages, {problem} (points kept)")
        elif problem:
            result.worsen("grader error", f"feedback could not be generated: {problem}")
    return result


def graded_cells_of_source():
    """{notebook: [(grade_id, max_points), ...]} of the assignment, in notebook and cell order."""
    graded = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        cells = [cell.metadata["nbgrader"] for cell in nbformat.read(path, as_version=4).cells]
        graded[path.stem] = [(meta["grade_id"], float(meta["points"])) for meta in cells if meta.get("grade")]
    return graded


def _grade_safely(api, course_root, submission, graded_cells, hidden):
    """:func:`grade_student`, with an unexpected exception (a bug of the kit or of nbgrader) recorded, not raised;
    the result carries the seconds spent per stage."""
    before = stages.snapshot()
    try:
        result = grade_student(api, course_root, submission, graded_cells, hidden)
    except Exception as error:
        result = StudentResult(submission.student_id)
        result.worsen("grader error", f"{type(error).__name__}: {error}")
        result.earn_nothing(graded_cells)
    result.seconds = stages.since(before)
    return result


_WORKER_API = {}


def _die_with_the_grader():
    """Worker initializer (Linux): the worker is killed when the grading process dies, so an interrupted run
    leaves nothing running that could race with the next one (its kernels die with the worker)."""
    try:
        import ctypes
        import signal
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass


def _grade_in_worker(course_root, submission, graded_cells, hidden):
    """Grade one student in a worker process, with one nbgrader API object per process."""
    warnings.filterwarnings("ignore", module="nbgrader")
    if course_root not in _WORKER_API:
        _WORKER_API[course_root] = make_api(course_root)
    return _grade_safely(_WORKER_API[course_root], course_root, submission, graded_cells, hidden)


def _grade_all(course_root, submissions, graded_cells, hidden, jobs):
    """Yield each student's StudentResult as it is done; ``jobs`` students are graded at a time."""
    if jobs == 1:
        api = make_api(course_root)
        for submission in submissions:
            yield _grade_safely(api, course_root, submission, graded_cells, hidden)
        return
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_die_with_the_grader) as pool:
        futures = [pool.submit(_grade_in_worker, course_root, submission, graded_cells, hidden)
                   for submission in submissions]
        for future in as_completed(futures):
            yield future.result()


def _grade_class(course_root, submissions, graded_cells, hidden, jobs, progress, done):
    """Grade ``submissions``, calling ``done(result)`` with each student's StudentResult as soon as it is final; a
    student whose grading failed in a worker (e.g. the gradebook was busy) is graded once more, alone, at the end."""
    again = []
    with tqdm(total=len(submissions), desc="Grading", unit="student", disable=not progress, file=sys.stdout) as bar:
        for result in _grade_all(course_root, submissions, graded_cells, hidden, jobs):
            if result.status == "grader error" and jobs > 1:
                again.append(result.student_id)
            else:
                done(result)
            bar.set_postfix_str(result.student_id)
            bar.update()
    for submission in submissions:
        if submission.student_id in again:
            result = _grade_safely(make_api(course_root), course_root, submission, graded_cells, hidden)
            result.notes.append("graded a second time, alone, after a grader error")
            done(result)


def with_manual_scores(course_root, results):
    """Where a person set a manual score in the gradebook (the formgrader, nbgrader's API), it replaces the kit's
    points in ``results`` (recorded in ``result.manual`` and in a note): the reports count what nbgrader counts."""
    with Gradebook(kit_records.database_url(course_root)) as gradebook:
        for result in results:
            try:
                gradebook.find_submission(ASSIGNMENT, result.student_id)
            except MissingEntry:
                continue
            for index, (notebook, grade_id, points, max_points) in enumerate(result.tests):
                try:
                    manual = gradebook.find_grade(grade_id, notebook, ASSIGNMENT, result.student_id).manual_score
                except MissingEntry:
                    continue
                if manual is not None:
                    result.manual[grade_id] = (manual, points)
                    result.tests[index] = (notebook, grade_id, manual, max_points)
                    result.notes.append(f"manual score {notebook}: {grade_id}: {manual:g} set by a person "
                                        f"(the kit's verdict: {points:g})")
            for notebook in result.scores:
                result.scores[notebook] = sum(points for nb, _, points, _ in result.tests if nb == notebook)
    return results


def _still_to_grade(submissions, stored, hashes, force):
    """(the submissions to grade, {student_id: StudentResult} of those unchanged since their last grading)."""
    kept = {}
    for submission in submissions:
        previous = stored.get(submission.student_id)
        if not force and previous and previous[0] == hashes[submission.student_id] \
                and previous[1]["status"] != "grader error":
            kept[submission.student_id] = StudentResult.from_fields({**previous[1], "unchanged": True, "seconds": {}})
    return [submission for submission in submissions if submission.student_id not in kept], kept


def grade(submissions_path, course_root=COURSE_ROOT, reports_dir=None, progress=True, jobs=None, hidden_cases=None,
          force=False):
    """Grade every new or changed submission of ``submissions_path``; returns the list of StudentResult of every
    student, in input order (with ``unchanged`` set for those kept from the last run).

    :param jobs: how many students are graded at a time (default: one per core).
    :param hidden_cases: the instructor's hidden cases file (default: $CNNKIT_HIDDEN_CASES, else
        autograder/hidden/cases.npz).
    :param force: grade every student again, changed or not (manual scores are kept all the same).
    """
    course_root = Path(course_root).resolve()
    reports_dir = Path(reports_dir or course_root / "reports")
    hidden_cases = Path(hidden_cases or os.environ.get("CNNKIT_HIDDEN_CASES") or HIDDEN_CASES)
    hidden = verdict.load_hidden(hidden_cases)
    generate_assignment(course_root, if_changed=True)  # the gradebook learns the graded cells and hidden tests
    graded_cells = graded_cells_of_source()
    names = list(graded_cells)
    submissions_path = Path(submissions_path)
    if submissions_path.is_file() and submissions_path.suffix == ".zip":
        submissions = read_zip(submissions_path, course_root, ASSIGNMENT, names)
    else:
        submissions = read_folder(submissions_path, names)
    records = kit_records.Records(kit_records.database_url(course_root))
    key = kit_records.grading_key(SOLUTIONS, hidden_cases)
    hashes = {submission.student_id: kit_records.submission_hash(submission, key) for submission in submissions}
    to_grade, kept = _still_to_grade(submissions, records.load(), hashes, force)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(to_grade)))
    scratch = course_root / "scratch"  # the sandboxes' folders, also those an interrupted run left
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    previous_root = os.environ.get("CNNKIT_SCRATCH_ROOT")
    os.environ["CNNKIT_SCRATCH_ROOT"] = str(scratch)  # read by the sandboxes, in this process and the workers
    try:
        graded = {}

        def done(result):  # kept at once: an interrupted run loses no finished student
            graded[result.student_id] = result
            if result.status != "invalid student id":  # its id is not a key the database should hold
                records.save(result.student_id, hashes[result.student_id], dataclasses.asdict(result))

        _grade_class(course_root, to_grade, graded_cells, hidden, jobs, progress, done)
    finally:
        records.close()
        if previous_root is None:
            del os.environ["CNNKIT_SCRATCH_ROOT"]
        else:
            os.environ["CNNKIT_SCRATCH_ROOT"] = previous_root
        shutil.rmtree(scratch, ignore_errors=True)
    results = with_manual_scores(course_root, [graded.get(s.student_id) or kept[s.student_id] for s in submissions])
    started = time.perf_counter()
    reports.write_all(results, graded_cells, reports_dir)
    graded_now = [result for result in results if not result.unchanged]
    for result in graded_now:  # the class's reports, shared out among the students graded now
        result.seconds["reports"] = (time.perf_counter() - started) / len(graded_now)
    reports.write_seconds(results, reports_dir / "seconds.csv")
    return results


def main(argv=None):
    warnings.filterwarnings("ignore", module="nbgrader")  # SQLAlchemy warnings from inside nbgrader's gradebook
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("submissions", type=Path, help="folder <student_id>/<notebook>.ipynb, or an LMS zip")
    parser.add_argument("--course-root", type=Path, default=COURSE_ROOT, help="nbgrader course folder")
    parser.add_argument("--reports", type=Path, default=None, help="where the CSVs and figures go")
    parser.add_argument("--jobs", type=int, default=None, help="students graded at a time (default: one per core)")
    parser.add_argument("--force", action="store_true",
                        help="grade every student again, also those whose submission did not change (manual scores "
                             "are kept)")
    parser.add_argument("--hidden", type=Path, default=None,
                        help="the hidden cases file (default: $CNNKIT_HIDDEN_CASES, else autograder/hidden/cases.npz)")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    print("\n".join(f"Protection - {line}" for line in sandbox.protections()))
    started = time.perf_counter()
    results = grade(args.submissions, args.course_root, args.reports, jobs=args.jobs, hidden_cases=args.hidden,
                    force=args.force)
    print(reports.table(results))
    kept = sum(result.unchanged for result in results)
    print(f"\n{len(results) - kept} students graded in {time.perf_counter() - started:.1f} s"
          + (f", {kept} unchanged since the last run (their results kept; --force grades them again)" if kept else "")
          + f". Reports in {args.reports or args.course_root / 'reports'}")
    return 1 if any(result.status == "grader error" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
