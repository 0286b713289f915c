"""`make lab`, the student's command, serves JupyterLab on the student notebooks (as root too)."""

import json
import os
import signal
import subprocess
import time
import urllib.request

from reference import NOTEBOOKS, REPO
from grading_helpers import free_port

TOKEN = "lab-test"


def test_make_lab_serves_jupyterlab_on_the_student_notebooks():
    port = free_port()
    process = subprocess.Popen(
        ["make", "--no-print-directory", "lab", f"LAB_ARGS=--no-browser --port={port} --IdentityProvider.token={TOKEN}"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        listing = None
        for _ in range(240):
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/contents",
                                                 headers={"Authorization": f"token {TOKEN}"})
                with urllib.request.urlopen(request, timeout=10) as response:
                    listing = json.load(response)
                break
            except OSError:
                assert process.poll() is None, "make lab exited"
                time.sleep(0.5)
        names = sorted(item["name"] for item in listing["content"] if item["name"].endswith(".ipynb"))
        assert names == sorted(path.name for path in NOTEBOOKS.glob("*.ipynb"))
        with urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{port}/lab",
                                                           headers={"Authorization": f"token {TOKEN}"})) as page:
            assert b"JupyterLab" in page.read()
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
