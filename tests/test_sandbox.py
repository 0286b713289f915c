"""The sandbox that student code runs in (autograder/sandbox.py): what it can see, reach and leave behind."""

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.hidden_cases import HIDDEN_CASES
from autograder.release import COURSE_ROOT, REPO, SOLUTIONS

needs_bubblewrap = pytest.mark.skipif(sandbox.bubblewrap() is None,
                                      reason="bubblewrap is not installed or namespaces are not allowed here")


def run_sandboxed(tmp_path, code, timeout=60):
    """Run Python ``code`` in the sandbox with ``tmp_path / 'scratch'`` as its scratch folder; returns the process."""
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    argv = [sys.executable, "-I", "-c", textwrap.dedent(code)]
    return subprocess.run(sandbox.command(argv, scratch), cwd=scratch, capture_output=True, text=True,
                          timeout=timeout, preexec_fn=sandbox.preexec())


PROBE = """
import json, os, socket, sys
def attempt(action):
    try:
        action()
        return "done"
    except Exception as error:
        return type(error).__name__
def connect(address):
    with socket.create_connection(address, timeout=3):
        pass
def write(path):
    with open(path, "w") as file:
        file.write("written by student code")
report = {{
    "read hidden cases": attempt(lambda: open({hidden!r}, "rb").read()),
    "read a reference notebook": attempt(lambda: open({solution!r}).read()),
    "write into the repository": attempt(lambda: write({target!r})),
    "write into /tmp": attempt(lambda: write("/tmp/cnnkit-sandbox-test")),
    "connect to the grader's port": attempt(lambda: connect(("127.0.0.1", {port}))),
    "connect to the internet": attempt(lambda: connect(("1.1.1.1", 53))),
    "write into scratch": attempt(lambda: write("mine.txt")),
    "import the student package": attempt(lambda: __import__("cnnkit.checks")),
    "import the runner": attempt(lambda: __import__("autograder.runner.harvest")),
    "import the oracle": attempt(lambda: __import__("autograder.oracle")),
    "import the verdicts": attempt(lambda: __import__("autograder.verdict")),
    "course folder": sorted(os.listdir({course!r})),
    "processes visible": len([name for name in os.listdir("/proc") if name.isdigit()]),
}}
print(json.dumps(report))
"""


@needs_bubblewrap
def test_student_code_reaches_nothing_but_its_scratch_folder_the_student_package_and_the_runner(tmp_path):
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        code = PROBE.format(hidden=str(HIDDEN_CASES), solution=str(SOLUTIONS / "01_convolution.ipynb"),
                            course=str(COURSE_ROOT), target=str(REPO / "written-by-student.txt"),
                            port=server.getsockname()[1])
        process = run_sandboxed(tmp_path, code)
    report = json.loads(process.stdout)
    reached = {attempt for attempt, outcome in report.items() if outcome == "done"}
    assert reached == {"write into scratch", "import the student package", "import the runner"}
    # The course folder is the kit's autograder/ package: of it, the sandbox holds the runner and nothing else.
    assert report["course folder"] == ["__init__.py", "runner"]
    assert report["processes visible"] <= 3  # bubblewrap's init, python, and nothing of the grader's
    assert not (REPO / "written-by-student.txt").exists()
    assert (tmp_path / "scratch" / "mine.txt").read_text() == "written by student code"


@needs_bubblewrap
def test_no_process_outlives_the_sandbox(tmp_path):
    marker = f"cnnkit-left-behind-{os.getpid()}"
    code = f"""
    import subprocess, os
    subprocess.Popen(["sleep", "300", {marker!r}], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        os.execvp("sleep", ["sleep", "301", {marker!r}])
    print("started")
    """
    assert run_sandboxed(tmp_path, code).stdout.strip() == "started"
    time.sleep(0.5)
    left = [pid for pid in os.listdir("/proc") if pid.isdigit() and marker in _cmdline(pid)]
    assert left == []


def _cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_memory_and_file_size_are_limited(tmp_path):
    code = f"""
    import numpy as np
    try:
        np.ones({sandbox.Limits().memory_bytes // 8 + 1})
        print("allocated")
    except MemoryError:
        print("MemoryError")
    import signal
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        with open("big", "wb") as file:
            file.write(b"x" * {sandbox.Limits().file_bytes + 1})
        print("written")
    except OSError as error:
        print(type(error).__name__)
    """
    assert run_sandboxed(tmp_path, code).stdout.split() == ["MemoryError", "OSError"]


def test_the_grading_output_says_which_protections_are_active(monkeypatch):
    monkeypatch.setenv("CNNKIT_SANDBOX", "off")
    sandbox.bubblewrap.cache_clear()
    try:
        lines = sandbox.protections()
        assert lines[0].startswith("sandbox: NONE (switched off by CNNKIT_SANDBOX=off)")
        assert sandbox.command(["true"], "/tmp") == ["true"]
    finally:
        monkeypatch.undo()
        sandbox.bubblewrap.cache_clear()
    if sandbox.bubblewrap():
        assert sandbox.protections()[0].startswith("sandbox: bubblewrap")
