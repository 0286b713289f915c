"""The kernel manager nbgrader uses at autograde time: every kernel runs in the sandbox.

Set in nbgrader_config.py as ``c.Execute.kernel_manager_class``. Each kernel gets a fresh scratch
folder holding a copy of the notebooks of the folder nbgrader runs it in (so a notebook can still
load the classes of an earlier one, but extra files handed in beside the notebooks are not there),
talks to nbgrader over Unix sockets in a private folder (the sandbox has no network, not even
loopback to the grader's), runs under the resource limits, and is killed with all its processes
when it has run longer than the notebook time limit.
"""

import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager
from traitlets import Int

from autograder import sandbox
from autograder.time_limits import seconds


INLINE_FIGURES = "module://matplotlib_inline.backend_inline"  # a figure drawn while grading shows in the feedback


class SandboxedKernelManager(AsyncKernelManager):
    """An AsyncKernelManager whose kernel command runs in :mod:`autograder.sandbox`."""

    notebook_timeout = Int(int(seconds("CNNKIT_NOTEBOOK_TIMEOUT")), config=True,
                           help="Seconds a kernel may live before it is killed with everything it started.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.transport = "ipc"
        self._sockets = self._scratch = self._deadline = None  # the folders exist from the kernel's start

    async def _async_pre_start_kernel(self, **kw):
        if self._sockets is None:
            self._sockets = Path(tempfile.mkdtemp(prefix="cnnkit-kernel-"))
            self._scratch = sandbox.scratch_folder("kernel-")
            self.connection_file = str(self._sockets / "kernel.json")
            self.ip = str(self._sockets / "kernel-ipc")
        folder = Path(kw.get("cwd") or os.getcwd())
        for notebook in folder.glob("*.ipynb"):
            if notebook.is_file() and not notebook.is_symlink():
                shutil.copyfile(notebook, self._scratch / notebook.name)
        kw["cwd"] = str(self._scratch)
        # What the kernel writes to its own stdout and stderr (os.write(1, ...) is echoed there too) would land
        # in the grader's terminal: it goes nowhere. The notebook's outputs come over the sockets.
        kw["stdout"] = kw["stderr"] = subprocess.DEVNULL
        return await super()._async_pre_start_kernel(**kw)

    def format_kernel_cmd(self, extra_arguments=None):
        argv = super().format_kernel_cmd(extra_arguments)
        # JPY_PARENT_PID=1: the kernel's parent is the sandbox's init, which it need not poll (and it says so
        # on every start otherwise). NBGRADER_EXECUTION, which nbgrader sets while it autogrades or validates,
        # reaches the notebook as it would without the sandbox (notebook 03 trains less when it is set).
        environment = {"JPY_PARENT_PID": "1", "MPLBACKEND": INLINE_FIGURES}
        if "NBGRADER_EXECUTION" in os.environ:
            environment["NBGRADER_EXECUTION"] = os.environ["NBGRADER_EXECUTION"]
        return sandbox.limits_prefix() + sandbox.command(argv, self._scratch, writable=[self._sockets],
                                                         environment=environment)

    async def _async_post_start_kernel(self, **kw):
        await super()._async_post_start_kernel(**kw)
        process_group = getattr(self.provisioner, "pgid", None)
        if process_group:
            self._deadline = threading.Timer(self.notebook_timeout, sandbox.kill_group, [process_group])
            self._deadline.daemon = True
            self._deadline.start()

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            if self._deadline is not None:
                self._deadline.cancel()
            for folder in (self._sockets, self._scratch):
                if folder is not None:
                    shutil.rmtree(folder, ignore_errors=True)
