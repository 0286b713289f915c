"""Grade a class: ``python -m autograder.grade SUBMISSIONS [--force]`` (what ``make grade`` runs).

SUBMISSIONS is a folder ``<student_id>/<notebook>.ipynb`` or an LMS export zip. Students whose submission is
unchanged since their last grading keep that result (:mod:`autograder.kit_records`; ``--force`` grades everyone).
For every other student: add them to nbgrader's gradebook and autograde (every kernel in the sandbox, see
:mod:`autograder.sandbox`; the cells that only teach are not run, see :mod:`autograder.teaching_cells`). nbgrader's
autograde computes the kit's own verdict on every graded test from the outputs of the student's code on the hidden
inputs (:mod:`autograder.verdict`) and writes those points into the gradebook as the autograder scores, flagging
every test where nbgrader's in-kernel result disagreed (:mod:`autograder.kit_autograde`, the same on every path
that autogrades); then the feedback HTML is generated. Students are graded by worker processes on this machine,
or by the workers of a Dask cluster (``--scheduler``, see :mod:`autograder.cluster`). Then the manual scores a
person set are counted, autograder/reports/grades.csv, tests.csv, review.csv, seconds.csv and class_report.png are
written, and one row per student is printed. A bad submission is recorded with its status and never stops the
others; the exit status is non-zero only when the kit itself failed, or when the gradebook holds an autograder
score that is not the kit's verdict.
"""

import argparse
import dataclasses
import os
import shutil
import sys
import time
import warnings
from concurrent.futures import as_completed
from pathlib import Path

from nbgrader.apps import NbGraderAPI
from traitlets.config.loader import PyFileConfigLoader
from tqdm.auto import tqdm

from autograder import cluster, feedback, kit_autograde, kit_records, release, reports, sandbox, stages, verdict
from autograder.gradebook_reports import report_scores_not_from_the_kit, with_manual_scores
from autograder.hidden_cases import StaleHiddenCases, instructor_file
from autograder.release import ASSIGNMENT, COURSE_ROOT, SOLUTIONS, generate_assignment
from autograder.student_result import StudentResult
from autograder.submissions import Submission, copy_repaired, is_safe_student_id, read_folder, read_zip


def make_api(course_root, hidden_cases=None, gradebook=None):
    """An nbgrader API object configured by the course's nbgrader_config.py, rooted at ``course_root``, with the
    gradebook database at the URL ``gradebook`` (default: the configured one); its autograde computes the kit's
    verdicts with ``hidden_cases`` (default: the course configuration's), and leaves keeping the student's result to
    this module."""
    config = PyFileConfigLoader("nbgrader_config.py", path=str(COURSE_ROOT)).load_config()
    config.CourseDirectory.root = str(course_root)
    if gradebook is not None:
        config.CourseDirectory.db_url = gradebook
    config.KitVerdicts.keep_results = False
    if hidden_cases is not None:
        config.KitVerdicts.hidden_cases = str(hidden_cases)
    return NbGraderAPI(config=config)


def _autograde(api, submission):
    """nbgrader's autograde of one student, kernels in the sandbox and the kit's verdicts as the scores (see
    autograder.kit_autograde): None if it finished, else its log (see kit_autograde.failed_run)."""
    with stages.timed("notebook execution", besides="kernel starts"):
        outcome = api.autograde(ASSIGNMENT, submission.student_id, force=True, create=True)
    return None if outcome["success"] else outcome.get("log", "") + outcome.get("error", "")


def grade_student(api, course_root, submission, graded_cells, hidden_cases):
    """Autograde, judge and give feedback to one student; never raises for a bad submission."""
    result = StudentResult(submission.student_id)
    if not is_safe_student_id(submission.student_id):
        result.worsen("invalid student id", "student folder names may use letters, digits and . - _ @ only")
        result.earn_nothing(graded_cells)
        return result
    for name in submission.missing:
        result.not_handed_in(name)
    for name, reason in submission.unreadable.items():
        result.worsen("unreadable notebook", f"{name}.ipynb is not a readable notebook ({reason})")
    with stages.timed("intake"):
        submitted = Path(course_root) / "submitted" / submission.student_id / ASSIGNMENT
        shutil.rmtree(submitted.parent, ignore_errors=True)
        submitted.mkdir(parents=True)
        copy_repaired(submission, submitted)
        result.notes += submission.repairs
    failure = _autograde(api, submission) if submission.notebooks else None
    autograded = bool(submission.notebooks) and failure is None
    # nbgrader's autograde wrote the kit's verdicts of every notebook it ran, and of all of them when a notebook's run
    # failed; where it stopped before any run (or never started), they are written here.
    judgement = kit_autograde.judgement_used(submitted) or kit_autograde.Judgement(
        submission.student_id, submitted, kit_autograde.hidden_cases(hidden_cases))
    if failure is not None and not judgement.failed:
        judgement.saw_failed_run(failure)
    if not autograded:
        shutil.rmtree(Path(course_root) / "autograded" / submission.student_id, ignore_errors=True)
    with stages.timed("gradebook"):
        judgement.record_rest(api.coursedir.db_url, ASSIGNMENT)
    result.absorb(judgement.result())
    if autograded:
        with stages.timed("feedback"):
            problem = feedback.generate(api, course_root, submission.student_id, submission.notebooks, result.tests)
        if problem and problem.startswith(feedback.TOO_SLOW_REASON):
            result.worsen("feedback too slow to render", f"feedback: plain-text pages, {problem} (points kept)")
        elif problem:
            result.worsen("grader error", f"feedback could not be generated: {problem}")
    return result


def _failed(submission, graded_cells, error):
    """The result of a student whose grading failed: a bug of the kit or of nbgrader, or a worker lost for good or
    refusing to grade."""
    result = StudentResult(submission.student_id)
    result.worsen("grader error", f"{type(error).__name__}: {error}")
    result.earn_nothing(graded_cells)
    return result


def _grade_safely(api, course_root, submission, graded_cells, hidden_cases):
    """:func:`grade_student`, with an unexpected exception (a bug of the kit or of nbgrader) recorded, not raised;
    the result carries the seconds spent per stage."""
    before = stages.snapshot()
    try:
        result = grade_student(api, course_root, submission, graded_cells, hidden_cases)
    except Exception as error:
        result = _failed(submission, graded_cells, error)
    result.seconds = stages.since(before)
    return result


_WORKER_API = {}


def grade_task(course_root, submission, graded_cells, hidden_cases, gradebook, allow_unsandboxed):
    """Grade one student in a worker (a process of this machine's pool, or a Dask worker): plain data in (paths as
    strings, the submission's fields), plain data out (the result's fields). One nbgrader API object per process."""
    worker, sandboxed = cluster.check_sandbox(allow_unsandboxed)
    warnings.filterwarnings("ignore", module="nbgrader")
    key = course_root, hidden_cases, gradebook
    if key not in _WORKER_API:
        _WORKER_API[key] = make_api(course_root, hidden_cases, gradebook)
    fields = {**submission, "notebooks": {name: Path(path) for name, path in submission["notebooks"].items()}}
    result = _grade_safely(_WORKER_API[key], Path(course_root), Submission(**fields), graded_cells, hidden_cases)
    return dataclasses.asdict(dataclasses.replace(result, worker=worker, sandboxed=sandboxed))


def _plain(submission):
    """The fields of a Submission as plain data (for grade_task)."""
    return {**dataclasses.asdict(submission),
            "notebooks": {name: str(path) for name, path in submission.notebooks.items()}}


def _grade_all(course_root, submissions, graded_cells, hidden_cases, jobs, where):
    """Yield each student's StudentResult as it is done. ``where``: (scheduler address or None, gradebook URL,
    whether workers without a sandbox may grade); with no scheduler, ``jobs`` students are graded at a time here."""
    scheduler, gradebook, allow_unsandboxed = where
    if jobs == 1 and scheduler is None:
        api, (worker, sandboxed) = make_api(course_root, hidden_cases, gradebook), cluster.worker_status()
        for submission in submissions:
            result = _grade_safely(api, course_root, submission, graded_cells, hidden_cases)
            yield dataclasses.replace(result, worker=worker, sandboxed=sandboxed)
        return
    with cluster.workers(jobs, scheduler, allow_unsandboxed) as workers:
        print(f"Grading on {workers.description}", flush=True)
        futures = {workers.executor.submit(grade_task, str(course_root), _plain(submission), graded_cells,
                                           str(hidden_cases), gradebook, allow_unsandboxed): submission
                   for submission in submissions}
        for future in as_completed(futures):
            try:
                yield StudentResult.from_fields(future.result())
            except Exception as error:  # the worker was lost for good, refused to grade, or the task failed
                yield _failed(futures[future], graded_cells, error)


def _grade_class(course_root, submissions, graded_cells, hidden_cases, jobs, where, progress, done):
    """Grade ``submissions``, calling ``done(result)`` with each student's StudentResult as soon as it is final; a
    student whose grading failed in a worker (e.g. the gradebook was busy) is graded once more, alone, here, at the
    end."""
    again = []
    with tqdm(total=len(submissions), desc="Grading", unit="student", disable=not progress, file=sys.stdout) as bar:
        for result in _grade_all(course_root, submissions, graded_cells, hidden_cases, jobs, where):
            if result.status == "grader error" and (jobs > 1 or where[0] is not None):
                again.append(result.student_id)
            else:
                done(result)
            bar.set_postfix_str(result.student_id)
            bar.update()
    for submission in submissions:
        if submission.student_id in again:
            result = _grade_safely(make_api(course_root, hidden_cases, where[1]), course_root, submission,
                                   graded_cells, hidden_cases)
            result.notes.append("graded a second time, alone, after a grader error")
            done(result)


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
          force=False, scheduler=None, allow_unsandboxed=False):
    """Grade every new or changed submission of ``submissions_path``; returns the list of StudentResult of every
    student, in input order (with ``unchanged`` set for those kept from the last run).

    :param jobs: how many students are graded at a time (default: one per core).
    :param hidden_cases: the instructor's hidden cases file (default: $CNNKIT_HIDDEN_CASES, else
        autograder/hidden/cases.npz).
    :param force: grade every student again, changed or not (manual scores are kept all the same).
    :param scheduler: the address of a Dask scheduler (tcp://host:8786) whose workers grade (see autograder.cluster);
        default: processes on this machine.
    :param allow_unsandboxed: let cluster workers without a working sandbox grade, with the resource limits only.
    """
    course_root = Path(course_root).resolve()
    reports_dir = Path(reports_dir or course_root / "reports")
    hidden_cases = Path(hidden_cases or instructor_file())
    verdict.load_hidden(hidden_cases)  # a missing or stale file stops here, before any student is graded
    generate_assignment(course_root, if_changed=True)  # the gradebook learns the graded cells and hidden tests
    graded_cells = release.graded_cells()
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

        where = scheduler, kit_records.database_url(course_root), allow_unsandboxed or scheduler is None
        _grade_class(course_root, to_grade, graded_cells, hidden_cases, jobs, where, progress, done)
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
    parser.add_argument("--scheduler", default=None,
                        help="grade on the Dask cluster of this scheduler (tcp://host:8786) instead of this machine")
    parser.add_argument("--allow-unsandboxed", action="store_true",
                        help="let cluster workers without a working sandbox (bubblewrap) grade, with limits only")
    parser.add_argument("--hidden", type=Path, default=None,
                        help="the hidden cases file (default: $CNNKIT_HIDDEN_CASES, else autograder/hidden/cases.npz)")
    args = parser.parse_args(argv)
    if not args.submissions.exists():
        parser.error(f"{args.submissions} does not exist")
    print("\n".join(f"Protection - {line}" for line in sandbox.protections()))
    started = time.perf_counter()
    try:
        results = grade(args.submissions, args.course_root, args.reports, jobs=args.jobs, hidden_cases=args.hidden,
                        force=args.force, scheduler=args.scheduler, allow_unsandboxed=args.allow_unsandboxed)
    except (StaleHiddenCases, cluster.NoSandbox) as error:
        print(f"Not graded: {error}", file=sys.stderr)
        return 2
    print(reports.table(results))
    kept = sum(result.unchanged for result in results)
    print(f"\n{len(results) - kept} students graded in {time.perf_counter() - started:.1f} s"
          + (f", {kept} unchanged since the last run (their results kept; --force grades them again)" if kept else "")
          + f". Reports in {args.reports or args.course_root / 'reports'}")
    unsandboxed = sorted({result.worker for result in results if not result.sandboxed})
    if unsandboxed:
        print(f"Graded without a sandbox (resource limits only) on: {', '.join(unsandboxed)}")
    foreign = report_scores_not_from_the_kit(args.course_root)
    return 1 if foreign or any(result.status == "grader error" for result in results) else 0


if __name__ == "__main__":
    sys.exit(main())
