"""Hostile and broken submissions (tests/hostile_class.py) graded in one run with honest ones.

Each attack must end with its expected status and exactly the points its code really earns; the honest
students must get exactly what they get when graded alone; nothing secret may reach a feedback page or an
autograded notebook; nothing outside the sandbox may be written, reached or left running; the gradebook must
hold the points of the reports. A grading run killed partway must, run again in the same course folder, end
with the results of an uninterrupted run.

Three runs share the module and overlap, to keep it short (grading waits on kernels more than it computes):
the mixed run (in this process, 2 students at a time), the honest students alone and the interrupted run
(both with the command line, in the background, one student at a time).
"""

import contextlib
import csv
import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from nbgrader.api import Gradebook, MissingEntry
from playwright.sync_api import sync_playwright

import hostile_class
from autograder import grade as grading
from autograder import formgrader_views, hidden_cases, sample_class, sandbox
from autograder.release import ASSIGNMENT, REPO, SOLUTIONS
from autograder.sample_class import STACKING, TRAINING
from active_content import MARKER, active_content
from grading_helpers import chromium, free_port, hidden_numbers, jupyter_server
from hostile_class import HOSTILE, NEEDS_SANDBOX, POINTS, PROBES
from notebook_cells import read, region_lines

SANDBOXED = sandbox.bubblewrap() is not None
needs_bubblewrap = pytest.mark.skipif(not SANDBOXED, reason="bubblewrap is not installed or namespaces are not "
                                                            "allowed here: student code would run unconfined")
# Honest students of the sample class, with points in more than one notebook: correct hands in every notebook (its
# network trains), the other two only 01 and 02, where their mistakes are (03 and 04 are then missing).
HONEST = ["average_pooling", "correct", "flipped_kernel"]
ONLY_01_02 = {"average_pooling", "flipped_kernel"}
# Graded again, killed partway and graded once more by the command line; cheap, and in this order.
INTERRUPTED = ["memory_hog", "pretend_arrays"]
# The cell limit is ten times what the honest students' slowest graded cell takes here (notebook 03's training, 1 s);
# the call limit two and a half times what floods_the_kit's backward takes to fill its output file here (4 s: at 5 s
# it came out "timed out" on a loaded machine, twice).
# The notebook's limit leaves 25 s for the cells before a cell that meets its own limit (floods_the_kernel's class
# cell starts late on a loaded machine: with 10 s left it was once killed by the notebook's limit first), and is still
# below all_cells_slow's 10 x 5 s of sleep.
LIMITS = {"CNNKIT_CELL_TIMEOUT": "10", "CNNKIT_CALL_TIMEOUT": "10", "CNNKIT_NOTEBOOK_TIMEOUT": "35"}
PRIVATE_SEED = 4242  # the instructor's own hidden cases, passed to every run as a file
HTML_TAG = re.compile(r"<[^>]+>")


@dataclass
class Course:
    """The files the runs share."""

    tmp: Path
    hidden: Path  # the private hidden cases file
    release: Path
    mixed: Path  # the hostile and honest students' folders
    honest: Path  # the honest students only
    interrupted: Path  # the students of the interrupted run
    targets: hostile_class.Targets
    listener: socket.socket  # listens on targets.port; nothing may connect
    hostile: list = field(default_factory=list)  # the hostile students built


@dataclass
class Run:
    """A command-line run in the background: its course folder and how it ended."""

    root: Path
    returncode: int = None
    output: str = ""
    error: BaseException = None  # raised in the background, re-raised by the fixture that waits for it
    process: subprocess.Popen = None  # the command line running now

    def grade(self, argv, **extra):
        """Run the command line ``argv`` to its end (in a process group of its own); keep its status and output."""
        self.process = subprocess.Popen(argv, cwd=REPO, env=environment(**extra), stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.output, _ = self.process.communicate(timeout=900)
        self.returncode = self.process.returncode


@dataclass
class Interrupted(Run):
    """The interrupted run (killed partway) and the run after it, in the same course folder."""

    was_running: bool = False  # the first run was still grading when it was killed
    reports_before: bool = False  # the first run had written its reports before it was killed
    left_running: dict = field(default_factory=dict)  # processes of the killed run still alive afterwards


def environment(**extra):
    """The grader's environment for a command-line run: the short limits, the virtual environment first on PATH
    (and not the scratch folder of the run going on in this process)."""
    inherited = {name: value for name, value in os.environ.items() if name != "CNNKIT_SCRATCH_ROOT"}
    return {**inherited, **LIMITS, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}", **extra}


def command_line(course, students, root, jobs):
    """``python -m autograder.grade`` on ``students`` in the course folder ``root``."""
    return [sys.executable, "-m", "autograder.grade", str(students), "--course-root", str(root), "--reports",
            str(root / "reports"), "--jobs", str(jobs), "--hidden", str(course.hidden)]


def processes_with(marker, where="environ"):
    """Ids of the processes whose environment (or command line) holds ``marker``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if marker.encode() in Path(f"/proc/{pid}/{where}").read_bytes():
                found.append(int(pid))
        except OSError:
            pass
    return [pid for pid in found if pid != os.getpid()]


def wait_until_gone(marker, where="environ", seconds=15):
    """The processes still holding ``marker`` after at most ``seconds`` of waiting for them to end:
    {pid: its state and command line}."""
    deadline = time.monotonic() + seconds
    while (left := processes_with(marker, where)) and time.monotonic() < deadline:
        time.sleep(0.2)
    described = {}
    for pid in left:
        with contextlib.suppress(OSError):
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]  # state, parent id
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            described[pid] = f"state {state[0]}, parent {state[1]}: {command[:300]}"
    return described


def wait_for_the_mixed_run(course, seconds=60):
    """Until the mixed run grades its first student (its workers are up, the start is less crowded)."""
    submitted = course.targets.course_root / "submitted"
    deadline = time.monotonic() + seconds
    while not (submitted.is_dir() and any(submitted.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)


def run_alone(course, record):
    """Grade the honest students alone with the command line, one at a time; fills ``record``."""
    try:
        wait_for_the_mixed_run(course)
        record.grade(command_line(course, course.honest, record.root, jobs=1))
    except BaseException as error:  # re-raised by the fixture that waits for it
        record.error = error


def run_interrupted(course, record):
    """Grade ``course.interrupted`` with the command line, SIGKILL its process group once the first student has
    feedback, then grade again in the same course folder; fills ``record``."""
    try:
        wait_for_the_mixed_run(course)
        marker = f"cnnkit-interrupted-{uuid.uuid4().hex}"
        argv = command_line(course, course.interrupted, record.root, jobs=1)
        first = record.process = subprocess.Popen(argv, cwd=REPO, env=environment(CNNKIT_TEST_RUN=marker),
                                                  start_new_session=True, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL)
        feedback = record.root / "feedback" / INTERRUPTED[0] / ASSIGNMENT
        deadline = time.monotonic() + 300
        while first.poll() is None and not feedback.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # into the next student
        record.was_running = first.poll() is None
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        record.reports_before = (record.root / "reports" / "grades.csv").exists()
        record.left_running = wait_until_gone(marker)
        record.grade(argv)
    except BaseException as error:  # re-raised by the fixture that waits for it
        record.error = error


def rows(reports):
    """{student: (status, {notebook: score}, {grade_id: points})} from a run's grades.csv and tests.csv."""
    with open(reports / "grades.csv") as file:
        grades = list(csv.DictReader(file))
    with open(reports / "tests.csv") as file:
        tests = list(csv.DictReader(file))
    points = {}
    for test in tests:
        points.setdefault(test["student_id"], {})[test["grade_id"]] = float(test["points"])
    return {row["student_id"]: (row["status"], {nb: float(row[f"{nb}_score"]) for nb in POINTS},
                                points[row["student_id"]]) for row in grades}


def as_row(result):
    """A StudentResult in the shape of :func:`rows`."""
    return result.status, dict(result.scores), {grade_id: points for _, grade_id, points, _ in result.tests}


@pytest.fixture(scope="module")
def monkeypatch_module():
    """A MonkeyPatch for the whole module (the limits are read by the grading workers)."""
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def course(tmp_path_factory, monkeypatch_module, course_copy):
    """The release, a private hidden cases file, and the folders of the three runs' students (their course folders
    generated: see conftest.py)."""
    for name, value in LIMITS.items():
        monkeypatch_module.setenv(name, value)
    tmp = tmp_path_factory.mktemp("hostile")
    hidden = tmp / "private" / "cases.npz"
    hidden.parent.mkdir()
    hidden_cases.main(["--seed", str(PRIVATE_SEED), "--output", str(hidden)])
    release = REPO / "notebooks"  # nbgrader's release, kept in sync with solutions/ (test_release.py)
    samples = sample_class.build(tmp / "samples", release)
    sentinel = tmp / "sentinel.txt"
    sentinel.write_text("written by the test")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.setblocking(False)
    targets = hostile_class.Targets(course_root=tmp / "course", hidden_cases=hidden, sentinel=sentinel,
                                    port=listener.getsockname()[1], marker=f"cnnkit-hostile-{uuid.uuid4().hex[:12]}")
    for course_root in (targets.course_root, tmp / "alone", tmp / "interrupted-course"):
        course_copy(course_root)
    built = Course(tmp, hidden, release, tmp / "mixed", tmp / "honest", tmp / "interrupted", targets, listener)
    built.hostile = hostile_class.build(built.mixed, release, targets, sandboxed=SANDBOXED)
    for student in HONEST:
        left_out = [f"{TRAINING}.ipynb", f"{STACKING}.ipynb"] if student in ONLY_01_02 else []
        for folder in (built.mixed, built.honest):
            shutil.copytree(samples / student, folder / student, ignore=shutil.ignore_patterns(*left_out))
    for student in INTERRUPTED:
        shutil.copytree(built.mixed / student, built.interrupted / student)
    yield built
    listener.close()
    for leftover in [Path("/tmp") / f"written-by-student-{targets.marker}",
                     Path(sandbox.CNNKIT_PACKAGE) / "written_by_student.py"]:
        leftover.unlink(missing_ok=True)  # only there if a test below failed


@pytest.fixture(scope="module")
def background(course):
    """Starts the honest-alone run and the interrupted run, which go on while the mixed run grades:
    {name: (record, thread)}."""
    runs = {"alone": (Run(course.tmp / "alone"), run_alone),
            "interrupted": (Interrupted(course.tmp / "interrupted-course"), run_interrupted)}
    started = {}
    for name, (record, target) in runs.items():
        thread = threading.Thread(target=target, args=(course, record), daemon=True)
        thread.start()
        started[name] = record, thread
    yield started
    for record, _ in started.values():  # a run still going when the module ends (a test failed first): stop it
        if record.process is not None and record.process.poll() is None:
            os.killpg(record.process.pid, signal.SIGKILL)


def finished(background, name):
    """The record of a background run, once it has ended (its error re-raised)."""
    record, thread = background[name]
    thread.join(timeout=900)
    assert not thread.is_alive(), f"the {name} run did not finish"
    if record.error is not None:
        raise record.error
    return record


@pytest.fixture(scope="module")
def mixed(course, background):
    """The hostile students and the honest ones graded together, 2 at a time: (results by id, course root)."""
    root = course.targets.course_root
    results = grading.grade(course.mixed, course_root=root, reports_dir=root / "reports", progress=False, jobs=2,
                            hidden_cases=course.hidden)
    return {result.student_id: result for result in results}, root


@pytest.fixture(scope="module")
def honest_alone(background):
    """The honest students graded alone (command line): rows by student id (see :func:`rows`)."""
    record = finished(background, "alone")
    assert record.returncode == 0, record.output[-3000:]
    return rows(record.root / "reports")


@pytest.fixture(scope="module")
def interrupted(background):
    """The record of the interrupted run and its second run (see :class:`Interrupted`)."""
    return finished(background, "interrupted")


def expected_row(student):
    """(status, {notebook: points}, {grade_id: points}) that a hostile student must get."""
    status, points = HOSTILE[student][1], hostile_class.earned_points(student)
    return status, {nb: sum(points[g] for g in cells) for nb, cells in POINTS.items()}, points


@pytest.mark.parametrize("student", list(HOSTILE))
def test_each_attack_gets_its_status_and_only_the_points_it_earned(mixed, student):
    """Status and points per test of every hostile or broken submission, exactly."""
    if student in NEEDS_SANDBOX and not SANDBOXED:
        pytest.skip("this attack is only handed in when the sandbox is active")
    result = mixed[0][student]
    assert as_row(result) == expected_row(student), (HOSTILE[student][0], result.notes)


def test_honest_students_get_the_same_grades_among_attackers_as_alone(mixed, honest_alone):
    """Every honest grade (status, notebook scores, test points) is the same in the mixed run as alone, and the
    one the sample class expects (for notebooks not handed in: missing, no point)."""
    results, _ = mixed
    assert {student: as_row(results[student]) for student in HONEST} == honest_alone
    missing = set(POINTS[TRAINING]) | set(POINTS[STACKING])
    for student in HONEST:
        status, _, points = honest_alone[student]
        failed = {grade_id for grade_id, earned in points.items() if earned == 0}
        expected = sample_class.EXPECTED_FAILURES[student]
        assert (status, failed) == (("missing notebook", expected | missing) if student in ONLY_01_02 else
                                    ("graded", expected))


def gradebook_scores(root, students):
    """{student: {grade_id: (score, auto_score, needs_manual_grade)}} from a course's gradebook.db (None for a
    student the gradebook does not know)."""
    found = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        for student in students:
            try:
                gradebook.find_student(student)
            except MissingEntry:
                found[student] = None
                continue
            found[student] = {}
            for notebook, cells in POINTS.items():
                for grade_id in cells:
                    grade = gradebook.find_grade(grade_id, notebook, ASSIGNMENT, student)
                    found[student][grade_id] = (grade.score, grade.auto_score, grade.needs_manual_grade)
    return found


def test_the_gradebook_holds_the_points_of_the_reports(mixed):
    """For every student of the mixed run, each graded cell's score in nbgrader's gradebook is the points of
    tests.csv, written as the autograder score (so no attack wrote it); a test where nbgrader's in-kernel score
    differed is marked for a manual look and listed in review.csv, and only those; the student with an invalid id
    never reached the gradebook."""
    results, root = mixed
    reported = rows(root / "reports")
    with open(root / "reports" / "review.csv") as file:
        review = {(row["student_id"], row["grade_id"]) for row in csv.DictReader(file)}
    stored = gradebook_scores(root, reported)
    for student, (status, _, points) in reported.items():
        if status == "invalid student id":
            assert stored[student] is None
            continue
        assert {grade_id: score for grade_id, (score, _, _) in stored[student].items()} == points, student
        for grade_id, (score, auto, needs_look) in stored[student].items():
            assert auto == score, (student, grade_id)
            assert needs_look == ((student, grade_id) in review), (student, grade_id)


def test_a_class_computed_by_the_kit_oracle_is_flagged_for_review(mixed):
    """A class that reaches for the kit's oracle earns nothing for it (see above: the oracle is not in the sandbox),
    and is also put in front of the instructor: review.csv names its class and the oracle. Its honest views keep
    their point, in nbgrader's kernel and in the kit's verdict alike."""
    if not SANDBOXED:
        pytest.skip("this attack is only handed in when the sandbox is active")
    _, root = mixed
    with open(root / "reports" / "review.csv") as file:
        flagged = [row for row in csv.DictReader(file) if row["student_id"] == "calls_the_oracle"]
    assert sorted((row["grade_id"], row["points"], row["nbgrader_points"], "oracle" in row["kit_reason"])
                  for row in flagged) == [("MaxPooling2dLayer", "1", "", True)]


def secret_solution_lines():
    """The lines of the reference solution regions that the released notebooks do not show."""
    released = {line.strip() for path in SOLUTIONS.glob("*.ipynb") for line in _release_text(path).splitlines()}
    return {line for path in SOLUTIONS.glob("*.ipynb") for line in region_lines(read(path))} - released


def _release_text(solution_path):
    """The text of the released notebook that corresponds to a reference notebook (sources and outputs)."""
    return notebook_text(REPO / "notebooks" / solution_path.name)


def notebook_text(path):
    """Every cell's source and text output of a notebook file, as one string ('' if it is not readable JSON)."""
    try:
        cells = json.loads(Path(path).read_text(errors="replace"))["cells"]
    except (ValueError, KeyError, TypeError, OSError):
        return ""
    parts = []
    for cell in cells if isinstance(cells, list) else []:
        if not isinstance(cell, dict):
            continue
        parts.append("".join(cell.get("source", "")))
        for output in cell.get("outputs", []):
            parts += ["".join(output.get("text", "")), "".join(output.get("data", {}).get("text/plain", "")),
                      output.get("evalue", ""), "\n".join(output.get("traceback", []))]
    return "\n".join(parts)


def shown_to(root, student):
    """Everything a student's feedback pages and autograded notebooks show, as plain text."""
    pages = [html.unescape(HTML_TAG.sub("", path.read_text(errors="replace")))
             for path in sorted((root / "feedback" / student).rglob("*.html"))]
    notebooks = [notebook_text(path) for path in sorted((root / "autograded" / student).rglob("*.ipynb"))]
    return "\n".join(pages + notebooks)


def handed_in(folder):
    """The lines of the files a student handed in (regular files only: a link's target is not theirs)."""
    lines = set()
    for path in Path(folder).rglob("*"):
        if path.is_file() and not path.is_symlink():
            lines |= {line.strip() for line in notebook_text(path).splitlines()}
            lines |= {line.strip() for line in path.read_text(errors="replace").splitlines()}
    return lines


def test_no_hidden_value_or_reference_solution_reaches_what_students_see(course, mixed):
    """No value of the private hidden cases, and no line of a reference solution that the student did not write,
    in any feedback page or autograded notebook of the mixed run."""
    results, root = mixed
    numbers, secret_lines = hidden_numbers(course.hidden), secret_solution_lines()
    assert secret_lines and numbers  # the check can find something
    for student in results:
        shown = shown_to(root, student)
        leaked = set(re.findall(r"-?\d+\.\d+(?:e[+-]\d+)?", shown)) & numbers
        assert not leaked, f"{student}: hidden values shown: {sorted(leaked)[:5]}"
        lines = {line.strip() for line in shown.splitlines()} & (secret_lines - handed_in(course.mixed / student))
        assert not lines, f"{student}: reference solution lines shown: {sorted(lines)[:3]}"


@needs_bubblewrap
@pytest.mark.parametrize("student", sorted(PROBES))
def test_every_probe_of_the_sandbox_ran_and_failed(course, mixed, student):
    """The attacks on secrets, files and the network ran in the kernel (their lines are in the feedback) and every
    one of them failed."""
    _, root = mixed
    shown = shown_to(root, student)
    marker = course.targets.marker
    for probe in PROBES[student]:
        assert f"{marker} {probe}: FAILED" in shown, (probe, shown[-2000:])
    assert not re.search(re.escape(marker) + r" [^\n]*: SUCCEEDED", shown)


@needs_bubblewrap
def test_nothing_outside_the_sandbox_was_written(course, mixed):
    """The sentinel file, the cnnkit package and /tmp are as they were: no student code wrote there."""
    assert course.targets.sentinel.read_text() == "written by the test"
    assert not (Path(sandbox.CNNKIT_PACKAGE) / "written_by_student.py").exists()
    assert not (Path("/tmp") / f"written-by-student-{course.targets.marker}").exists()


@needs_bubblewrap
def test_no_connection_reached_the_grader_machine(course, mixed):
    """Nothing connected to the port the test listens on (the network attack tried, in the kernel and in the
    kit's process)."""
    with pytest.raises(BlockingIOError):
        course.listener.accept()


@needs_bubblewrap
def test_no_process_started_by_a_student_is_left_running(course, mixed):
    """The daemons (setsid, double fork, Popen with a new session) died with their sandboxes."""
    assert "leaves_daemons" in course.hostile
    assert wait_until_gone(course.targets.marker, where="cmdline", seconds=5) == {}


def test_files_beside_the_notebooks_never_reach_the_grader(mixed):
    """Of what extra_files and symlinked_notebook handed in, only the notebooks that are regular files are
    copied into the course folder."""
    _, root = mixed
    submitted = root / "submitted"
    assert sorted(p.name for p in (submitted / "extra_files" / ASSIGNMENT).iterdir()) == ["02_max_pooling.ipynb"]
    assert list((submitted / "symlinked_notebook" / ASSIGNMENT).iterdir()) == []


def test_an_interrupted_run_graded_again_gives_the_results_of_an_uninterrupted_one(mixed, interrupted):
    """Killed while grading its second student (process group, SIGKILL), then run again in the same course folder:
    the same statuses and points as the uninterrupted mixed run, and a gradebook that holds them."""
    results, _ = mixed
    assert interrupted.was_running and not interrupted.reports_before
    assert interrupted.returncode == 0, interrupted.output[-3000:]
    again = rows(interrupted.root / "reports")
    assert again == {student: as_row(results[student]) for student in INTERRUPTED}
    stored = gradebook_scores(interrupted.root, INTERRUPTED)
    assert {s: {g: score for g, (score, _, _) in stored[s].items()} for s in INTERRUPTED} == \
        {s: points for s, (_, _, points) in again.items()}


@needs_bubblewrap
def test_an_interrupted_run_leaves_no_process_behind(interrupted):
    """Once the killed run's process group is gone, none of its workers, kernels or sandboxes is still running."""
    assert interrupted.left_running == {}


# ---- pages built from a submission, for the people who read them ----------------------------------------

XSS = sorted(student for student in HOSTILE if student.startswith("xss_"))
TOKEN = "hostile-pages-test"


def feedback_pages(root, student):
    return {path.name: path.read_text() for path in sorted((root / "feedback" / student / ASSIGNMENT).glob("*.html"))}


@pytest.mark.parametrize("student", XSS + ["slow_markdown"])
def test_no_feedback_page_carries_the_submissions_active_content(mixed, student):
    _, root = mixed
    pages = feedback_pages(root, student)
    assert pages
    for name, page in pages.items():
        assert active_content(page) == [], name


def test_markdown_made_to_render_slowly_is_shown_as_plain_text_and_the_student_keeps_every_point(mixed):
    results, root = mixed
    (page,) = feedback_pages(root, "slow_markdown").values()
    assert page.count("shown as plain text") == 3
    assert results["slow_markdown"].status == "missing notebook"


@pytest.fixture(scope="module")
def course_server(mixed, tmp_path_factory):
    """A Jupyter server (JupyterLab and the formgrader) in the mixed run's course folder, as a TA starts it; yields its
    URL, the course folder and the server's log."""
    _, root = mixed
    shutil.copy(REPO / "autograder" / "nbgrader_config.py", root)  # its course root is the folder it lies in
    port = free_port()
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}",
               f"--LabApp.workspaces_dir={tmp_path_factory.mktemp('workspaces')}",  # no tabs of earlier runs
               "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp: see lab_page
    environment = {**os.environ, "PATH": f"{bin_dir}:/usr/bin:/bin", "JUPYTER_CONFIG_PATH": str(formgrader_views.CONFIG_DIR)}
    log = tmp_path_factory.mktemp("formgrader") / "server.log"
    with jupyter_server(command, port, TOKEN, log, cwd=root, env=environment):
        yield f"http://127.0.0.1:{port}", root, log


@pytest.fixture(scope="module")
def ta_browser(course_server, tmp_path_factory):
    """Debian's Chromium with the TA's session; yields (context, requests made by any page)."""
    requests = []
    with sync_playwright() as playwright:
        context = chromium(playwright, tmp_path_factory.mktemp("ta-profile"),
                           extra_http_headers={"Authorization": f"token {TOKEN}"})
        context.set_default_timeout(120_000)
        context.on("request", lambda request: requests.append(request.url))
        yield context, requests
        context.close()


@pytest.fixture(scope="module")
def lab_page(course_server, ta_browser):
    """One JupyterLab page with the TA's session, in which the tests open the autograded notebooks one after another
    as a TA does (with the lab's own command, through window.jupyterapp, which the server exposes): JupyterLab loads
    once for the module, not once per notebook (each load costs Chromium and the server 6 to 9 s of CPU)."""
    base, *_ = course_server
    context, _ = ta_browser
    page = context.new_page()
    page.goto(f"{base}/lab")
    page.wait_for_function("() => window.jupyterapp && window.jupyterapp.started")
    page.locator(".jp-Launcher").first.wait_for()
    yield page
    page.close()


def submission_view(root, student):
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        return f"/formgrader/submissions/{gradebook.find_submission_notebook('02_max_pooling', ASSIGNMENT, student).id}/"


def _visit(context, requests, url, ready):
    """Open ``url`` in a new page, wait until ``ready`` shows and a little more; returns (page, its requests, the
    messages of its console)."""
    first, console = len(requests), []
    page = context.new_page()
    page.on("console", lambda message: console.append(message.text))
    page.goto(url)
    page.locator(ready).first.wait_for()
    page.wait_for_timeout(1000)  # an onerror or onload handler would have run by now
    return page, requests[first:], console


def _open_in_lab(page, requests, path):
    """Open the notebook at ``path`` in the JupyterLab ``page``, wait until its cells show and a little more; returns
    the requests made meanwhile. A marker an earlier notebook's script set (its own test failed for it) is removed
    first, so that the marker checked after this one can only be this notebook's."""
    page.evaluate("() => { delete window.cnnkitMarker; }")
    first = len(requests)
    page.evaluate("async path => { await window.jupyterapp.commands.execute('docmanager:open', {path}); }", path)
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell >> visible=true").first.wait_for()
    page.wait_for_timeout(1000)  # an onerror or onload handler would have run by now
    return requests[first:]


@pytest.mark.parametrize("student", XSS)
@pytest.mark.parametrize("view", ["formgrader", "feedback", "jupyterlab"])
def test_in_a_browser_no_script_of_a_submission_runs_for_the_ta(course_server, ta_browser, lab_page, student, view):
    """The formgrader's manual-grading view, the feedback page and the autograded notebook in JupyterLab, opened in
    Chromium with the TA's session: the student's script never sets its marker, and nothing the page asks for goes
    to the Jupyter API or to the marker's address on the student's behalf. The page itself works."""
    base, root, log = course_server
    context, requests = ta_browser
    if view == "jupyterlab":
        page = lab_page
        asked = _open_in_lab(page, requests, f"autograded/{student}/{ASSIGNMENT}/02_max_pooling.ipynb")
    else:
        url = {"formgrader": base + submission_view(root, student),
               "feedback": f"{base}/files/feedback/{student}/{ASSIGNMENT}/02_max_pooling.html"}[view]
        page, asked, console = _visit(context, requests, url, "text=MaxPooling2dLayer")
    try:
        if view == "formgrader":
            with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})) as r:
                assert "script-src" in r.headers["Content-Security-Policy"]
            notebook = f"autograded/{student}/{ASSIGNMENT}/02_max_pooling.ipynb"
            assert f"{notebook} in a worker process" in log.read_text(errors="replace"), "rendered in the server"
        assert page.evaluate("() => window.cnnkitMarker") is None
        assert [address for address in asked if MARKER in address or "gradebook.db" in address] == []
        if view == "formgrader":  # its own script ran, without eval, and put the autograded scores in
            assert not [message for message in console if "eval" in message], console
            page.wait_for_function("() => document.querySelector('input.score') && "
                                   "document.querySelector('input.score').getAttribute('placeholder') !== null")
    finally:
        if view == "jupyterlab":  # the next notebook opens alone, in the same page
            page.evaluate("async () => { await window.jupyterapp.commands.execute('application:close-all'); }")
        else:
            page.close()
