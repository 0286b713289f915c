"""The formgrader in a Jupyter server, on this course configuration: it autogrades with the hidden tests and
its feedback shows neither their code nor their values (the command line is covered by test_grading_pipeline.py)."""

import json
import re
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from autograder import sample_class
from autograder.release import ASSIGNMENT, COURSE_ROOT, SOLUTIONS, generate_assignment
from grading_helpers import free_port, hidden_numbers, jupyter_server

TOKEN = "formgrader-test"
STUDENT = "original_post"


def call(port, method, path):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return json.loads(response.read() or "null")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A copy of the course folder (configuration and hidden cases) with one submitted student."""
    root = tmp_path_factory.mktemp("formgrader")
    shutil.copy(COURSE_ROOT / "nbgrader_config.py", root)  # its CourseDirectory.root is the folder it lies in
    shutil.copytree(COURSE_ROOT / "hidden", root / "hidden")
    release = generate_assignment(root)
    sample_class.build(root / "class", release)
    shutil.copytree(root / "class" / STUDENT, root / "submitted" / STUDENT / ASSIGNMENT)
    return root


@pytest.fixture(scope="module")
def server(course):
    port = free_port()
    bin_dir = Path(sys.executable).parent
    command = [str(bin_dir / "jupyter"), "server", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
               f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={course}"]
    with jupyter_server(command, port, TOKEN, course / "server.log", cwd=course,
                        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(course)}):
        yield port


def test_formgrader_autogrades_with_hidden_tests_and_keeps_them_out_of_feedback(course, server):
    assert call(server, "GET", "/formgrader/api/status")["status"] is True
    assert call(server, "POST", f"/formgrader/api/submission/{ASSIGNMENT}/{STUDENT}/autograde")["success"]
    assert call(server, "POST", f"/formgrader/api/assignment/{ASSIGNMENT}/{STUDENT}/generate_feedback")["success"]
    html = "\n".join(path.read_text() for path in (course / "feedback" / STUDENT / ASSIGNMENT).glob("*.html"))
    assert len(list((course / "feedback" / STUDENT / ASSIGNMENT).glob("*.html"))) == len(list(SOLUTIONS.glob("*.ipynb")))
    assert "hidden case" in html  # the hidden tests ran, and say so in words
    assert "HIDDEN TESTS" not in html and "hidden_tests.run" not in html
    assert not set(re.findall(r"-?\d+\.\d+(?:e[+-]\d+)?", html)) & hidden_numbers()
    released = sorted(path.name for path in (course / "release" / ASSIGNMENT).rglob("*") if path.is_file())
    assert all(name.endswith(".ipynb") for name in released)
