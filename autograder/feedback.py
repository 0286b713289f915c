"""One student's feedback pages, built by nbgrader in a process of its own, under a time and a memory limit.

A submission can be built to make rendering slow (or hungry). The pages are built in a child process forked from
the grading worker; past the limit it is killed, and the student gets plain-text pages with their points instead,
so that no student holds a worker longer than the limit.

Before its first child, a process renders the released version of each notebook in memory (:func:`warm_up`): each
child then starts with the caches of nbconvert, Pygments and latex2mathml filled, and with the HTML of every cell the
release and the student's notebook share (:mod:`autograder.classic_page`, :func:`autograder.safe_html.render_markdown`):
a student's pages then take about a third of the CPU they took with nbconvert's own caches alone.
"""

import html
import os
import resource
import signal
import time
from pathlib import Path

import nbformat

from autograder.feedback_page import FeedbackExporter
from autograder.release import ASSIGNMENT, SOLUTIONS, release_folder
from autograder.time_limits import PAGE_MEMORY, seconds

FEEDBACK_TIMEOUT = seconds("CNNKIT_FEEDBACK_TIMEOUT")  # per student
TOO_SLOW_REASON = "it took longer than"


WARM_UP_NOTEBOOK = SOLUTIONS / "01_convolution.ipynb"  # markdown, maths and code: every kind of cell
_warmed = set()  # the notebooks this process has rendered


def warm_up_page(config, path=WARM_UP_NOTEBOOK):
    """The feedback page of the notebook at ``path`` rendered in memory with the feedback exporter configured by
    ``config``, as nbgrader's GenerateFeedback would render it (every test at 0 points); nothing is written."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            cell.metadata.nbgrader["score"] = 0.0
    grades = {"notebook": Path(path).stem, "score": 0.0, "max_score": 0.0, "late_penalty": 0.0}
    page, _ = FeedbackExporter(config=config).from_notebook_node(
        nb, resources={"nbgrader": grades, "cnnkit": {"tests": [], "first_fix": None}})
    return page


def warm_up(config, paths=(WARM_UP_NOTEBOOK,)):
    """:func:`warm_up_page` of each notebook of ``paths``, once per process. Only a speed-up: if it fails (say the
    template came to need more than those resources), each child renders as it would have anyway, and reports any
    real problem."""
    for path in paths:
        if path in _warmed:
            continue
        _warmed.add(path)
        try:
            warm_up_page(config, path)
        except Exception:
            pass


def _render(api, student_id):
    resource.setrlimit(resource.RLIMIT_AS, (PAGE_MEMORY, PAGE_MEMORY))
    return api.generate_feedback(ASSIGNMENT, student_id, force=True)["success"]


def _in_child(function, timeout):
    """Run ``function`` in a forked child (os.fork: a Dask worker's process is daemonic, and multiprocessing would
    refuse it children); its exit status (0 if it returned a true value), or None if it was killed at ``timeout``."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            code = 0 if function() else 1
        finally:
            os._exit(code)  # a forked child: no cleanup of the parent's state
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return None
        time.sleep(0.02)


def plain_page(student_id, notebook, tests, reason):
    """A feedback page of plain text: the notebook's tests and points, and why the full page is missing."""
    rows = "\n".join(f"{grade_id}: {points:g} / {max_points:g}" for nb, grade_id, points, max_points in tests
                     if nb == notebook)
    earned = sum(points for nb, _, points, _ in tests if nb == notebook)
    possible = sum(max_points for nb, *_, max_points in tests if nb == notebook)
    text = (f"Feedback for {student_id}: {notebook}\n\nYour notebook's feedback page could not be built: {reason}. "
            f"Your points are not affected.\n\nScore: {earned:g} / {possible:g}\n\n{rows}\n")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(notebook)}</title></head>"
            f"<body><pre>{html.escape(text)}</pre></body></html>\n")


def generate(api, course_root, student_id, notebooks, tests, timeout=None):
    """Build the student's feedback pages; returns None when they were built, else why not (the student then has
    plain-text pages). Whether it took too long: ``reason.startswith(TOO_SLOW_REASON)``.

    :param notebooks: the names of the student's autograded notebooks (without .ipynb).
    :param tests: (notebook, grade_id, points, max_points) of every graded test, for the plain-text pages.
    """
    timeout = FEEDBACK_TIMEOUT if timeout is None else timeout
    released = [release_folder(course_root) / f"{notebook}.ipynb" for notebook in notebooks]
    warm_up(api.config, [path for path in released if path.is_file()] or [WARM_UP_NOTEBOOK])
    status = _in_child(lambda: _render(api, student_id), timeout)
    if status is None:
        reason = f"{TOO_SLOW_REASON} {timeout:g} s to render"
    elif status != 0:
        reason = f"nbgrader could not build it, or it needed more than {PAGE_MEMORY >> 20} MiB of memory"
    else:
        return None
    folder = Path(course_root) / "feedback" / student_id / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    for notebook in notebooks:
        (folder / f"{notebook}.html").write_text(plain_page(student_id, notebook, tests, reason), encoding="utf-8")
    return reason
