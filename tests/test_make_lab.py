"""`make lab` in the repository serves JupyterLab (as root too) on build/lab, a working copy of the hand-out: saving
a notebook there changes neither the release in notebooks/ nor anything `make test` checks, and the work is kept
when `make lab` runs again."""

import hashlib
import json
import os
import signal
import subprocess
import time
import urllib.request
from contextlib import contextmanager

from reference import NOTEBOOKS, REPO
from grading_helpers import free_port

TOKEN = "lab-test"
WORKING_COPY = REPO / "build" / "lab"


def fingerprint(folder):
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.glob("*.ipynb"))}


def api(port, path, method="GET", body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        data = response.read()
    return json.loads(data) if path.startswith("/api") else data


@contextmanager
def make_lab():
    """`make lab` running on a free port; yields the port once the server answers."""
    port = free_port()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS=--no-browser --port={port} --IdentityProvider.token={TOKEN}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        for _ in range(240):
            try:
                api(port, "/api/contents")
                break
            except OSError:
                assert process.poll() is None, "make lab exited"
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_make_lab_serves_a_working_copy_of_the_hand_out_and_never_touches_the_release():
    release = fingerprint(NOTEBOOKS)
    with make_lab() as port:
        listing = api(port, "/api/contents")["content"]
        names = sorted(item["name"] for item in listing)
        assert [name for name in names if name.endswith(".ipynb")] == sorted(release)
        assert {"cnnkit", "Makefile", "README.md"} <= set(names) and "solutions" not in names
        assert b"JupyterLab" in api(port, "/lab")
        notebook = api(port, "/api/contents/01_convolution.ipynb")
        notebook["content"]["cells"][0]["source"] += "\n\nA note the student saved."
        api(port, "/api/contents/01_convolution.ipynb", "PUT",
            {"type": "notebook", "format": "json", "content": notebook["content"]})
    assert "A note the student saved." in (WORKING_COPY / "01_convolution.ipynb").read_text()
    assert fingerprint(NOTEBOOKS) == release
    with make_lab() as port:  # again: the working copy keeps the student's notebook
        saved = api(port, "/api/contents/01_convolution.ipynb")["content"]["cells"][0]["source"]
        assert saved.endswith("A note the student saved.")
    assert fingerprint(NOTEBOOKS) == release
