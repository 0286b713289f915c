"""Run student code confined: bubblewrap namespaces where they work, resource limits everywhere.

:func:`command` turns a command line into one that runs it in a sandbox:

- **bubblewrap** (Linux, Debian package ``bubblewrap``): new user, PID, network, IPC and UTS
  namespaces, so no network, no view of the grader's processes, and every process it started dies
  with it; a file system made of the system folders, Python, the virtual environment, the student
  package ``cnnkit`` (what the hand-out ships) and ``autograder/runner`` (the code that calls the
  student's classes, which holds no answer), all read-only, plus one writable scratch folder. The rest
  of ``autograder/`` (oracle, hidden cases, verdicts, gradebook), the reference notebooks, the other
  students and the grader's home are not there.
- **limits** (everywhere): address space, file size and core dumps through ``setrlimit``.

Wall-clock limits are the caller's job: it kills the process group (see :func:`kill_group`).
:func:`protections` says which protections are active, for the top of the grading output.
"""

import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cnnkit

CNNKIT_PACKAGE = Path(cnnkit.__file__).resolve().parent
AUTOGRADER = Path(__file__).resolve().parent
# All the kit code a sandbox holds: the student package, and of the instructor's side only the runner (and the
# package file that makes it importable).
KIT_CODE = [CNNKIT_PACKAGE, AUTOGRADER / "__init__.py", AUTOGRADER / "runner"]
GIB, MIB = 1024**3, 1024**2
# Read-only system paths a Python kernel needs (those that do not exist here are skipped). /etc is not
# bound whole: only what the dynamic linker, fonts and time zones read.
SYSTEM_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc/ld.so.cache", "/etc/ld.so.conf",
                "/etc/ld.so.conf.d", "/etc/fonts", "/etc/localtime", "/etc/alternatives", "/etc/ssl"]
SANDBOX_USER_ID = 65534  # "nobody" inside the sandbox


@dataclass(frozen=True)
class Limits:
    """Resource limits of one sandboxed process tree."""

    memory_bytes: int = int(os.environ.get("CNNKIT_MEMORY_LIMIT_MB", "3072")) * MIB  # address space
    file_bytes: int = 256 * MIB  # largest file it may write (an output flood fails here)


@functools.lru_cache(maxsize=1)
def bubblewrap():
    """The path of a working ``bwrap``, or None (not installed, or namespaces not allowed here)."""
    if os.environ.get("CNNKIT_SANDBOX", "on") == "off":
        return None
    path = shutil.which("bwrap")
    if path is None:
        return None
    probe = subprocess.run([path, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True)
    return path if probe.returncode == 0 else None


def protections():
    """One line per protection, saying whether it is active on this machine."""
    if bubblewrap():
        confined = ["sandbox: bubblewrap (no network; read-only system, Python and the student package; course files, gradebook "
                    "and other students not mounted; writes only to a scratch folder; all processes killed with it)"]
    else:
        why = "switched off by CNNKIT_SANDBOX=off" if os.environ.get("CNNKIT_SANDBOX") == "off" else \
            "bwrap not found or namespaces not allowed; install Debian's bubblewrap"
        confined = [f"sandbox: NONE ({why}): student code runs with the grader's permissions and network"]
    limits = Limits()
    return confined + [
        f"limits: {limits.memory_bytes // MIB} MiB of memory, {limits.file_bytes // MIB} MiB per file written, "
        "no core dumps; time limits per cell, per graded call and per notebook",
        "verdicts: computed outside the student's process from its outputs on the hidden inputs",
    ]


def _python_paths():
    """The interpreter's installation, the virtual environment and the kit code, in the order they are mounted."""
    prefixes = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    if any(AUTOGRADER.is_relative_to(prefix) for prefix in prefixes):  # then the oracle would be mounted with Python
        raise RuntimeError(f"the kit's autograder package is installed inside {sys.prefix}, which the sandbox mounts: "
                           "install the kit in editable mode (pip install -e ., as the Makefile does)")
    return sorted(prefixes) + KIT_CODE


def scratch_folder(prefix):
    """A new, empty scratch folder: under $CNNKIT_SCRATCH_ROOT when set (grading sets it to one folder per run, which
    it empties at the start and the end, so that even a killed run leaves nothing behind), else in the temp folder."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("CNNKIT_SCRATCH_ROOT") or None))


def sandbox_environment(scratch, extra=None):
    """The environment of sandboxed code: nothing of the grader's, a private home and temporary folder."""
    environment = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch), "TMPDIR": str(scratch), "MPLCONFIGDIR": str(Path(scratch) / ".matplotlib"),
        "MPLBACKEND": "Agg", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0",
        "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    }
    environment.update(extra or {})
    return environment


def command(argv, scratch, writable=(), environment=None):
    """``argv`` wrapped to run in the sandbox, with ``scratch`` (and ``writable``) the only writable folders and the
    working directory ``scratch``. Without bubblewrap, ``argv`` itself (run it with :func:`preexec` for the limits).
    """
    bwrap = bubblewrap()
    if bwrap is None:
        return list(argv)
    wrapped = [bwrap, "--unshare-all", "--die-with-parent", "--uid", str(SANDBOX_USER_ID),
               "--gid", str(SANDBOX_USER_ID), "--cap-drop", "ALL", "--clearenv",
               "--proc", "/proc", "--dev", "/dev"]
    for path in SYSTEM_PATHS:
        if os.path.lexists(path):
            wrapped += ["--ro-bind", path, path]
    for path in _python_paths():
        wrapped += ["--ro-bind", str(path), str(path)]
    for path in [scratch, *writable]:
        wrapped += ["--bind", str(path), str(path)]
    wrapped += ["--remount-ro", "/"]  # the sandbox's own root (where the mount points live) is read-only too
    for name, value in sandbox_environment(scratch, environment).items():
        wrapped += ["--setenv", name, value]
    return wrapped + ["--chdir", str(scratch), "--", *argv]


PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when the thread that started it ends
_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: a child between fork and exec must not import


def _die_with(parent):
    """Be killed when ``parent`` (the grading process that started this one) dies, or exit now if it already has.

    bubblewrap's --die-with-parent does the same, but only once bubblewrap runs: a grader killed before then (while
    a kernel's launcher starts Python, say) would leave the sandbox running."""
    _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def preexec(limits=Limits()):
    """A ``preexec_fn`` for subprocess: killed with the caller, a new process group and the resource limits."""
    parent = os.getpid()

    def apply():
        _die_with(parent)
        os.setpgrp()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def limits_prefix(limits=Limits()):
    """A command prefix that applies the resource limits, then runs the rest of the command line (for kernels,
    whose launcher takes no ``preexec_fn``), in a process killed with the one that runs this prefix (call it there).
    SIGINT is ignored on the way: an interrupt goes to the whole process group, and must stop the running cell, not
    the sandbox around the kernel (which installs its own handler)."""
    code = ("import ctypes, os, resource, signal, sys\n"
            f"ctypes.CDLL(None).prctl({PR_SET_PDEATHSIG}, signal.SIGKILL)\n"  # as _die_with does
            f"if os.getppid() != {os.getpid()}:\n"
            "    os._exit(1)\n"
            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"  # only the kernel handles interrupts, not bwrap
            f"resource.setrlimit(resource.RLIMIT_AS, ({limits.memory_bytes}, {limits.memory_bytes}))\n"
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limits.file_bytes}, {limits.file_bytes}))\n"
            "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
            "os.execvp(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-I", "-c", code]


def kill_group(process_group):
    """Kill every process of a process group (a sandbox and all it started); no error if it is gone."""
    try:
        os.killpg(process_group, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
