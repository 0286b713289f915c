"""A Jupyter server extension for the formgrader: its submission views render in a process that can be killed.

nbgrader's formgrader renders a submission view (the manual-grading page of one notebook) with nbconvert inside the
Jupyter server, in the request handler itself: a notebook made to render slowly, or to need much memory, would hold
the whole server, for every TA. With this extension each view is rendered by a worker process
(``python -m autograder.formgrader_views``) under a time limit (``CNNKIT_VIEW_TIMEOUT``) and a memory limit
(:data:`autograder.time_limits.PAGE_MEMORY`), with the very exporter configuration nbgrader would have used. Past
either, the worker is killed, and the view is built again without the notebook's outputs (the grading form stays),
in half the time; failing that too, the TA gets a plain page that says why and links to the notebook. The extension
also gives every submission view its Content-Security-Policy (:mod:`autograder.formgrader_csp`).

``make formgrader`` enables it through :data:`CONFIG_DIR` (``autograder/jupyter-config``, where JupyterLab's check
for a rebuild of its extensions is off: each page load started Node.js for it).
"""

import ctypes
import html
import json
import logging
import os
import pickle
import resource
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from autograder.formgrader_csp import SubmissionViewPolicy
from autograder.time_limits import PAGE_MEMORY, seconds

CONFIG_DIR = Path(__file__).parent / "jupyter-config"  # JUPYTER_CONFIG_PATH that enables this extension
REPO = Path(__file__).resolve().parents[1]
HEADER = struct.Struct("!Q")  # each message between the server and the worker: its length, then its bytes
PR_SET_PDEATHSIG = 1  # prctl(2)
STARTUP = 60  # seconds a new worker may take to import what it needs, before its first view's time limit starts
log = logging.getLogger(__name__)


class ViewRenderer:
    """Stands in for the formgrader's ``HTMLExporter``: ``from_filename`` renders in a worker process.

    The worker is warm (nbconvert already imported, so a view takes what it takes in the server) and renders one
    view at a time. When a view is too slow, the worker is killed; when rendering fails (too much memory, say), the
    worker exits. Either way a new one is started for the next view.

    :param config: the traitlets config of the exporter it replaces (pickled to the worker).
    """

    def __init__(self, config, timeout=None, memory=PAGE_MEMORY, logger=log):
        self.config, self.log = config, logger
        self.timeout = seconds("CNNKIT_VIEW_TIMEOUT") if timeout is None else timeout
        self.memory = memory
        self._worker, self._ready = None, False
        self._lock = threading.Lock()

    def start(self):
        """Start the worker if none is running (it imports nbconvert meanwhile, then says it is ready)."""
        if self._worker is None or self._worker.poll() is not None:
            self._ready = False
            environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO),
                                                                                     os.environ.get("PYTHONPATH")]))}
            self._worker = subprocess.Popen([sys.executable, "-m", "autograder.formgrader_views", str(self.memory)],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=environment)

    def stop(self):
        """Kill the worker (by its PID) and wait for it."""
        if self._worker is not None:
            self._worker.kill()
            self._worker.wait()
            self._worker = None

    def from_filename(self, filename, resources=None):
        """``(html, resources)`` of the notebook ``filename``: the formgrader's page; if it cannot be built in time or
        in memory, the same page without the outputs (:func:`without_outputs`; the grading form is kept), in half
        the time; if not even that, a plain page that says why."""
        resources = dict(resources or {})
        with self._lock:
            page, reason = self._render(filename, resources, self.timeout)
            if page is None:
                page, _ = self._render(filename, resources, self.timeout / 2, without_outputs_because=reason)
        return (page, resources) if page is not None else (plain_page(resources, reason), resources)

    def _render(self, filename, resources, timeout, without_outputs_because=None):
        """(the page, None), or (None, why not) after killing the worker and starting a new one."""
        job = pickle.dumps({"config": self.config, "filename": str(filename), "resources": resources,
                            "without_outputs_because": without_outputs_because})
        what = " without its outputs" if without_outputs_because else ""
        reason = f"it could not be rendered, or needed more than {self.memory >> 20} MiB of memory"
        self.start()
        try:
            if not self._ready:  # the time limit is the view's, not the worker's start
                _read_message(self._worker.stdout, time.monotonic() + STARTUP)
                self._ready = True
            started = time.monotonic()
            self._worker.stdin.write(HEADER.pack(len(job)) + job)
            self._worker.stdin.flush()
            reply = _read_message(self._worker.stdout, started + timeout)
        except TimeoutError:
            reason = f"it took longer than {timeout:g} s to render"
        except (OSError, EOFError):  # the worker died (memory, say)
            pass
        else:
            if reply[:1] == b"0":
                self.log.info("Rendered %s%s in a worker process in %.1f s", filename, what, time.monotonic() - started)
                return reply[1:].decode("utf-8"), None
            self.log.warning("Rendering %s failed: %s", filename, reply[1:].decode("utf-8", "replace"))
        self.log.warning("Submission view of %s%s not rendered: %s", filename, what, reason)
        self.stop()
        self.start()  # warm again for the next view
        return None, reason


def _read_message(stream, deadline):
    """One message from ``stream`` (a pipe), waiting until the ``deadline`` (time.monotonic) at most."""
    data, needed = bytearray(), HEADER.size
    with selectors.DefaultSelector() as selector:
        selector.register(stream, selectors.EVENT_READ)
        while len(data) < needed:
            if not selector.select(max(0.0, deadline - time.monotonic())):
                raise TimeoutError
            chunk = os.read(stream.fileno(), min(needed - len(data), 1 << 20))
            if not chunk:
                raise EOFError("the worker exited")
            data += chunk
            if needed == HEADER.size and len(data) == HEADER.size:
                needed += HEADER.unpack(data)[0]
    return bytes(data[HEADER.size:])


LONGEST_SOURCE = 100_000  # characters of a cell shown in a view without outputs


def without_outputs(notebook, reason):
    """``notebook`` (a dict read from JSON) with every output replaced by a note that says ``reason``, and cell
    sources cut at :data:`LONGEST_SOURCE` characters: what a view shows when the whole notebook is too big for it."""
    note = (f"[Outputs not shown here: the full view of this submission was not built ({reason}). The autograded "
            "notebook holds them.]\n")
    for cell in notebook.get("cells", []):
        source = "".join(cell.get("source", ""))
        if len(source) > LONGEST_SOURCE:
            cell["source"] = f"{source[:LONGEST_SOURCE]}\n[... {len(source) - LONGEST_SOURCE} more characters not shown]"
        if cell.get("cell_type") == "code":
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": note}]
    return notebook


def plain_page(resources, reason):
    """The page a TA gets in place of a submission view that could not be built: why, and where to go instead."""
    base = resources.get("base_url", "")
    notebook = f"{base}/lab/tree/{resources.get('notebook_path', '')}"
    listing = f"{base}/formgrader/gradebook/{resources.get('assignment_id', '')}/{resources.get('notebook_id', '')}"
    text = (f"The submission view of {resources.get('notebook_id', 'this notebook')} by "
            f"{resources.get('student', 'this student')} was not built: {reason}. Its scores are unchanged.")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(text[:60])}</title></head>"
            f"<body><p>{html.escape(text)}</p><p><a href=\"{html.escape(notebook)}\">Open the autograded notebook in "
            f"JupyterLab</a> (as an untrusted notebook, nothing in it runs) or go <a href=\"{html.escape(listing)}\">"
            f"back to the submissions</a>.</p></body></html>\n")


def _die_with_parent():
    """On Linux, the kernel kills the worker when the Jupyter server exits, even in the middle of a view."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the worker still exits at its next read (end of file)
        pass


def _serve(memory):
    """The worker: render each job read from stdin with nbconvert's HTMLExporter (the kit's
    :class:`autograder.classic_page.ClassicPageExporter`, which does not parse the page again), reply on (the
    original) stdout with ``b"0"`` and the page, or ``b"1"`` and the error, after which it exits."""
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _die_with_parent()
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever else prints goes to stderr, never into a reply
    import nbformat

    import autograder.safe_html  # noqa: F401 - imported now, so that the first view is as fast as the next
    from autograder.classic_page import ClassicPageExporter

    replies.write(HEADER.pack(0))  # ready
    replies.flush()
    jobs = sys.stdin.buffer
    while len(header := jobs.read(HEADER.size)) == HEADER.size:
        job = pickle.loads(jobs.read(HEADER.unpack(header)[0]))
        try:
            exporter, reason = ClassicPageExporter(config=job["config"]), job["without_outputs_because"]
            if reason is None:
                page, _ = exporter.from_filename(job["filename"], resources=job["resources"])
            else:
                with open(job["filename"], encoding="utf-8") as file:
                    notebook = nbformat.reads(json.dumps(without_outputs(json.load(file), reason)), as_version=4)
                page, _ = exporter.from_notebook_node(notebook, resources=job["resources"])
            reply = b"0" + page.encode("utf-8")
        except Exception:  # MemoryError included
            reply = b"1" + traceback.format_exc()[-2000:].encode("utf-8")
        replies.write(HEADER.pack(len(reply)) + reply)
        replies.flush()
        if reply[:1] == b"1":
            return


def _jupyter_server_extension_points():
    return [{"module": "autograder.formgrader_views"}]


def _load_jupyter_server_extension(server_app):
    server_app.web_app.add_transform(SubmissionViewPolicy)


async def _start_jupyter_server_extension(server_app):
    """Runs once every extension is loaded, so after nbgrader's formgrader has put its exporter in the settings."""
    settings = server_app.web_app.settings
    if "nbgrader_exporter" in settings:
        renderer = ViewRenderer(settings["nbgrader_exporter"].config, logger=server_app.log)
        renderer.start()
        settings["nbgrader_exporter"] = renderer
        server_app.log.info("Formgrader submission views render in a worker process (at most %g s, %d MiB)",
                            renderer.timeout, renderer.memory >> 20)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
