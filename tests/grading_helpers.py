"""Helpers shared by the grading tests (command line, formgrader, lab and hostile submissions)."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import numpy as np

from autograder.hidden_cases import HIDDEN_CASES


def hidden_numbers(path=HIDDEN_CASES):
    """Every value of the hidden cases as the messages would print it (6 significant digits)."""
    with np.load(path) as data:
        values = np.concatenate([data[key].ravel() for key in data.files])
    return {f"{value:.6g}" for value in values if abs(value) > 1e-3 and len(f"{value:.6g}") >= 6}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# Debian's Chromium, headless, as the browser tests start it (Playwright's own browsers are never downloaded).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium(playwright, profile, **options):
    """A persistent Chromium context on a fresh ``profile`` folder."""
    return playwright.chromium.launch_persistent_context(str(profile), executable_path=shutil.which("chromium"),
                                                         args=CHROMIUM_ARGS, headless=True, **options)


@contextlib.contextmanager
def jupyter_server(command, port, token, log_path, **popen):
    """Run ``command`` (a Jupyter server, or make starting one) in a session of its own, wait until it answers on
    ``port``, yield the process, and stop it with its whole process group."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, **popen)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/api/status",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=10):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, \
                    f"{command[0]} did not start:\n{open(log_path, errors='replace').read()[-3000:]}"
                time.sleep(0.5)
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
