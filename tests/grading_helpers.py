"""Helpers shared by the grading tests (command line, formgrader, lab and hostile submissions)."""

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import sqlalchemy

from autograder.cluster import free_port, stop_session
from autograder.hidden_cases import HIDDEN_CASES
from autograder.release import graded_cells

# {notebook: {grade_id: points}}, from the source notebooks' nbgrader metadata (the one place points are defined).
POINTS = {notebook: dict(cells) for notebook, cells in graded_cells().items()}


def hidden_numbers(path=HIDDEN_CASES):
    """Every value of the hidden cases as the messages would print it (6 significant digits)."""
    with np.load(path) as data:
        values = np.concatenate([data[key].ravel() for key in data.files])
    return {f"{value:.6g}" for value in values if abs(value) > 1e-3 and len(f"{value:.6g}") >= 6}


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
        stop_session(process)


def _postgres_program(name):
    """Debian keeps PostgreSQL's server programs in a versioned folder that is not on PATH."""
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    assert found, f"{name} not found: install Debian's postgresql package (.ci/run does)"
    return found


@contextlib.contextmanager
def postgres_server():
    """A private PostgreSQL server on 127.0.0.1, its data in a temporary folder: yields the SQLAlchemy URL of a new,
    empty database; stopped with pg_ctl, then by PID, and its folder removed. PostgreSQL refuses to run as root: as
    root, the server runs as the ``postgres`` user that Debian's package creates (the folder is not under pytest's,
    which only root may enter)."""
    folder = Path(tempfile.mkdtemp(prefix="cnnkit-postgres-"))
    as_user = []
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = folder / "data", free_port()
    subprocess.run([*as_user, _postgres_program("initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                    "--no-sync"], check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*as_user, _postgres_program("pg_ctl"), "-D", str(data), "-o", options, "-l",
                    str(folder / "server.log"), "-w", "start"], check=True, capture_output=True)
    pid = int((data / "postmaster.pid").read_text().split()[0])
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}"
        engine = sqlalchemy.create_engine(f"{url}/postgres", isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("CREATE DATABASE gradebook"))
        engine.dispose()
        yield f"{url}/gradebook"
    finally:
        subprocess.run([*as_user, _postgres_program("pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
