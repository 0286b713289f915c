"""Where the students are graded: worker processes on this machine, or the workers of a Dask distributed cluster.

``make grade`` grades each student as one task through a ``concurrent.futures`` executor: a pool of processes here
(one per core by default), or, with ``SCHEDULER=tcp://host:8786``, an existing Dask cluster
(``distributed.Client.get_executor``). Both run the same task, :func:`autograder.grade.grade_task`, whose argument
and result are plain data (the fields of the submission and of the result; nothing a student's code made).

The workers of a cluster are trusted machines: they see the course folder and the submissions at the same paths
(a shared file system), run this kit in the same version, reach the gradebook database (``GRADEBOOK=postgresql://...``)
and keep student code in their own sandbox. A worker whose sandbox does not work (no bubblewrap) grades nobody unless
the instructor allows limits-only grading (``--allow-unsandboxed``); the summary then names it. A worker that dies
in the middle of a student has its task given to another worker by the scheduler: the student is graded again from
the start, and the gradebook keeps one result per student and notebook.
"""

import contextlib
import multiprocessing
import os
import select
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from autograder import sandbox


class NoSandbox(RuntimeError):
    """A worker without a working sandbox was asked to grade, and limits-only grading was not allowed."""


@dataclass
class Workers:
    """An executor for :func:`autograder.grade.grade_task`, and what to tell the instructor about it."""

    executor: object  # a concurrent.futures.Executor
    description: str
    unsandboxed: list = field(default_factory=list)  # the workers that grade without a sandbox


def worker_status():
    """(this worker's name, whether its sandbox works): run on each worker."""
    return f"{socket.gethostname()}:{os.getpid()}", bool(sandbox.bubblewrap())


def check_sandbox(allow_unsandboxed):
    """This worker's name and whether it grades in a sandbox; raises NoSandbox if it must not grade."""
    name, sandboxed = worker_status()
    if not sandboxed and not allow_unsandboxed:
        raise NoSandbox(f"worker {name} has no working sandbox (install bubblewrap there), and limits-only grading "
                        "was not allowed (--allow-unsandboxed)")
    return name, sandboxed


# The libraries a grading worker imports, loaded once per grading process by multiprocessing's fork server: each
# worker forked from it imports only the kit's own modules (about 5 s of CPU less per worker). The kit's modules are
# not preloaded: they read the environment when imported (time limits, the scratch folder), which a worker takes from
# the grader first (_start_worker).
PRELOADED = ["numpy", "scipy.signal", "sqlalchemy", "jupyter_client", "nbconvert", "nbgrader.apps", "nbgrader.api",
             "tqdm.auto"]


def _start_worker(environment, folder, grader):
    """Worker initializer: the grader's environment and working folder (a worker forked from the fork server starts
    with the server's), and (Linux) death with the grading process ``grader`` (a pid) and with its parent, the fork
    server: an interrupted run leaves nothing running that could race with the next one (its kernels die with the
    worker)."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(folder)
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: nothing to do
        pass
    _end_with(grader)


def _end_with(pid):
    """End this process as soon as process ``pid`` ends. The fork server does not end with the grading process: each
    worker holds it open (multiprocessing hands every child the server's pipe), and a worker waits for tasks on a
    queue it holds both ends of. So each worker watches the grader itself (Linux 5.3's pidfd; elsewhere, nothing)."""
    try:
        watched = os.pidfd_open(pid)
    except ProcessLookupError:  # the grader ended before this worker started
        os._exit(1)
    except (AttributeError, OSError):
        return

    def watch():
        select.select([watched], [], [])  # readable once the process has ended
        os._exit(1)

    threading.Thread(target=watch, name="end-with-the-grader", daemon=True).start()


@contextlib.contextmanager
def workers(jobs, scheduler=None, allow_unsandboxed=False):
    """Yield the :class:`Workers` that grade: ``jobs`` processes here, or the Dask cluster at ``scheduler``, whose
    workers are checked first (raises NoSandbox when one has no sandbox and that is not allowed)."""
    if scheduler is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOADED)
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_start_worker,
                                 initargs=(dict(os.environ), os.getcwd(), os.getpid())) as pool:
            yield Workers(pool, f"{jobs} worker process{'es' if jobs > 1 else ''} on this machine")
        return
    from distributed import Client  # only a cluster run needs it

    with Client(scheduler, timeout=60) as client:
        statuses = client.run(worker_status)  # {address: (name, sandboxed)}
        if not statuses:
            raise RuntimeError(f"the Dask cluster at {scheduler} has no workers")
        unsandboxed = sorted(address for address, (_, sandboxed) in statuses.items() if not sandboxed)
        if unsandboxed and not allow_unsandboxed:
            raise NoSandbox(f"these workers have no working sandbox (install bubblewrap there), and limits-only "
                            f"grading was not allowed (--allow-unsandboxed): {', '.join(unsandboxed)}")
        description = (f"the Dask cluster at {scheduler}, {len(statuses)} workers "
                       f"(dashboard: {client.dashboard_link})")
        with client.get_executor(pure=False) as executor:
            yield Workers(executor, description, unsandboxed)


@contextlib.contextmanager
def _process(command, log, environment=None):
    """A process in a session of its own, logging to ``log``; stopped by its PID (SIGTERM, then SIGKILL) with
    everything it started."""
    with open(log, "wb") as output:
        started = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(environment or {})})
    try:
        yield started
    finally:
        stop_session(started)


def stop_session(process, seconds=30):
    """Stop ``process``, started in a session of its own, with everything it started: SIGTERM to its process group,
    then SIGKILL after ``seconds``."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=seconds)


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def started_cluster(folder, workers=2, environment=None):
    """A Dask scheduler and ``workers`` workers on 127.0.0.1, started as separate processes (``dask scheduler``,
    ``dask worker``: one thread each, and a nanny that restarts a worker that dies), logging into ``folder``: yields
    the scheduler's address. For the benchmark and the tests; a real cluster is started by its own tools.

    :param environment: extra environment variables of the workers.
    """
    from distributed import Client

    dask = str(Path(sys.executable).parent / "dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        stack.enter_context(_process([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                      "--dashboard-address", f"127.0.0.1:{free_port()}"],
                                     Path(folder) / "scheduler.log"))
        for number in range(workers):
            stack.enter_context(_process([dask, "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                                          "--memory-limit", "0", "--no-dashboard", "--name", f"worker-{number}"],
                                         Path(folder) / f"worker-{number}.log", environment))
        with Client(address, timeout=120) as client:
            client.wait_for_workers(workers, timeout=120)
        yield address
