"""Hostile and broken submissions: students who want points without the work, and laptops that crashed mid-save.

:func:`build` writes one folder per student of :data:`HOSTILE` from the released notebooks. Most attacks sit on
a class that earns nothing (the release's stub, or :data:`WRONG_POOL`, whose outputs have the right types and
shapes and wrong values), so that any point they get is unearned. The resource abuses (endless loops, memory,
crashes, output floods) sit on the reference solution with the abuse in one method or one cell, so that the
points of everything else must be kept. To keep the run short most students hand in only the notebook their
attack needs; the others are then missing, which is their status unless something worse happened.

Attacks that aim at things outside the student's reach are given the real places by :class:`Targets`: the
course folder (gradebook, reference notebooks), the hidden cases file, a sentinel file, a TCP port the test
listens on, and a marker string that every process they start carries on its command line.
"""

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nbformat

from active_content import VECTORS
from autograder.release import SOLUTIONS
from autograder.sample_class import CONV, POOL, class_sources, filled_in, solution_cell
from grading_helpers import POINTS

ALL_CONV, ALL_POOL = set(POINTS[CONV]), set(POINTS[POOL])
NOTHING = set()

# student id: (what it tries, expected status, the grade ids it really earns).
HOSTILE = {
    # ---- tampering inside the kernel (nbgrader's own in-kernel score may be fooled; the kit's must not be) ----
    "patched_numpy_testing": ("replaces np.isclose, np.allclose, np.array_equal and np.testing's asserts by ones that "
                              "always pass, in the kernel and in the class body; outputs are well-shaped zeros",
                              "missing notebook", NOTHING),
    "patched_checks": ("replaces every function of cnnkit.checks and autograder.runner.hidden_tests.run by no-ops",
                       "missing notebook", NOTHING),
    "swallowed_errors": ("IPython set_custom_exc and sys.excepthook swallow every exception", "missing notebook",
                         NOTHING),
    "patched_ipython": ("wraps the shell's run_cell_async so that every test cell runs `pass` instead",
                        "missing notebook", NOTHING),
    "patched_builtins": ("builtins.isinstance (for ndarray) and AssertionError replaced; outputs are well-shaped zeros",
                         "missing notebook", NOTHING),
    "pretend_arrays": ("returns objects equal to everything, an ndarray subclass that says it is close, an object "
                       "array", "missing notebook", NOTHING),
    "calls_the_oracle": ("forward and backward return what the kit's oracle computes (autograder/oracle.py, the "
                         "instructor's independent implementation, on the grader's machine); the views are honest",
                         "missing notebook", {"pool_views"}),
    "imports_the_oracle_indirectly": ("the same, importing the oracle at call time with importlib after putting the "
                                      "kit's folder (found from cnnkit.__file__) on sys.path", "missing notebook",
                                      {"pool_views"}),
    "reads_the_call_file": ("forward finds the expected output of its input in the kit's calls file or in the "
                            "harvest's stack frames (views and backward are honest)",
                            "missing notebook", {"conv_views", "conv_backward_stride1", "conv_backward_strided"}),
    # ---- editing the notebook's structure and metadata ----
    "tampered_test_cells": ("test cells say `print('passed')` and are worth 100 points, with a bogus checksum",
                            "missing notebook", NOTHING),
    "extra_graded_cell": ("adds a graded cell of its own, worth 100 points, that passes", "nbgrader failed", NOTHING),
    "deleted_test_cells": ("deletes every graded test cell", "missing notebook", NOTHING),
    "flipped_cell_flags": ("marks the test cells as ungraded, unlocked solution cells saying `pass`",
                           "nbgrader failed", NOTHING),
    "swapped_grade_ids": ("swaps the grade ids of two test cells (average pooling: only the views are right)",
                          "missing notebook", {"pool_views"}),
    "extra_files": ("hands in numpy.py, sitecustomize.py, a fake cnnkit package and an extra notebook beside its "
                    "notebook", "missing notebook", NOTHING),
    "symlinked_notebook": ("hands in a symbolic link to the course's reference notebook",
                           "unreadable notebook", NOTHING),
    # ---- reaching outside the sandbox (only built when bubblewrap is active) ----
    "reads_secrets": ("reads the hidden cases, the reference notebooks, the gradebook and the other students' "
                      "folders, and prints what it got, in the kernel and in the class body", "missing notebook",
                      NOTHING),
    "writes_outside": ("writes the gradebook (sqlite UPDATE), a sentinel file, the cnnkit package and /tmp",
                       "missing notebook", NOTHING),
    "network": ("connects to a port the grader's machine listens on, and to the internet", "missing notebook",
                NOTHING),
    "leaves_daemons": ("starts a setsid daemon, a double-forked one and Popen(start_new_session=True)",
                       "missing notebook", NOTHING),
    "kills_everything": ("os.kill(-1, SIGKILL) in the kernel and in the class body", "missing notebook", NOTHING),
    # ---- resource abuse on a correct solution: the rest must keep its points ----
    "endless_forward": ("forward loops forever when the kit calls it (in the kernel it is right, which keeps the run "
                        "short); views and backward are right", "timed out", ALL_POOL - {"pool_forward"}),
    "endless_class_cell": ("an endless loop after the (right) class, in the class cell", "timed out", ALL_POOL),
    "endless_deaf_loop": ("ignores SIGINT, then loops forever (sleeping) in the class cell", "timed out", ALL_POOL),
    "all_cells_slow": ("an extra cell sleeping 5 s after every code cell: each under the cell time limit, "
                       "together over the notebook's", "kernel died", ALL_POOL),
    "memory_hog": ("backward allocates until the memory runs out", "missing notebook", {"pool_views", "pool_forward"}),
    "sigkill_self": ("backward kills its own process with SIGKILL", "kernel died", {"pool_views", "pool_forward"}),
    "exits_in_class_cell": ("os._exit(0) after the (right) class, in the class cell", "kernel died", ALL_POOL),
    "floods_the_kernel": ("prints 300 lines of 1 MB in the class cell, then never ends", "timed out", ALL_POOL),
    "floods_the_kit": ("backward prints 300 MB, only when the kit calls it (the file size limit stops it)",
                       "missing notebook", {"pool_views", "pool_forward"}),
    # ---- active content for the people who read the pages built from it (the class is right) ----
    **{f"xss_{vector}": (f"{what} (script that sets a marker and fetches the gradebook through the Jupyter API)",
                         "missing notebook", ALL_POOL) for vector, (what, _) in VECTORS.items()},
    "slow_markdown": ("markdown cells made to render slowly: 300,000 '[', 30,000 link openers, 5,000 nested quotes",
                      "missing notebook", ALL_POOL),
    # ---- laptop crashed mid-save, and other accidents ----
    "empty_file": ("a notebook of 0 bytes", "unreadable notebook", NOTHING),
    "not_json": ("a notebook that is not JSON", "unreadable notebook", NOTHING),
    "truncated_json": ("02 cut in the middle of the class cell; 01 is right", "unreadable notebook", ALL_CONV),
    "json_not_a_notebook": ("valid JSON that is not a notebook", "unreadable notebook", NOTHING),
    "binary_garbage": ("bytes that are not UTF-8", "unreadable notebook", NOTHING),
    "nothing_handed_in": ("an empty folder", "missing notebook", NOTHING),
    "notebook_is_a_folder": ("a folder named 02_max_pooling.ipynb", "missing notebook", NOTHING),
    "renamed_notebook": ("the right notebook, saved as '02_max_pooling (1).ipynb'", "missing notebook", NOTHING),
    "robert'); DROP TABLE students;--": ("a student id made to break paths and SQL", "invalid student id", NOTHING),
    "class_cell_after_tests": ("the (right) class cell moved below the test cells", "missing notebook", ALL_POOL),
    "renamed_duplicated_cells": ("every cell id renamed, every test cell duplicated, the class cell's nbgrader "
                                 "metadata gone", "missing notebook", ALL_POOL),
    "stub_pasted_below": ("the right class, then the release's stub class pasted below it (the stub wins)",
                          "missing notebook", NOTHING),
}
# Attacks that would really reach the machine without bubblewrap (secrets, sentinel, network, daemons, kill -1,
# writes into the kit): built only when the sandbox is active.
# (Without the sandbox, the grader's whole machine is in reach, the kit's oracle included.)
NEEDS_SANDBOX = {"reads_secrets", "writes_outside", "network", "leaves_daemons", "kills_everything",
                 "calls_the_oracle", "imports_the_oracle_indirectly"}
# Attacks that print one line "<marker> <probe>: SUCCEEDED|FAILED ..." per probe in the class cell's output.
PROBES = {
    "reads_secrets": ["read hidden cases", "read reference notebook", "read course source", "read gradebook",
                      "list submitted"],
    "writes_outside": ["write gradebook", "write sentinel", "write cnnkit", "write /tmp"],
    "network": ["connect to the grader's machine", "connect to the internet"],
}


@dataclass(frozen=True)
class Targets:
    """What the attacks aim at, outside their reach."""

    course_root: Path  # gradebook.db, source/ (the reference notebooks), submitted/ (the other students)
    hidden_cases: Path  # the instructor's hidden cases file
    sentinel: Path  # a file the attacks try to overwrite
    port: int  # a TCP port on 127.0.0.1 that the test listens on
    marker: str  # on the command line of every process an attack starts, and before every probe line


# Outputs with the right types and shapes and wrong values (zeros): the base of the attacks that must earn nothing.
WRONG_POOL = '''
class MaxPooling2dLayer(object):
    """Well-shaped zeros everywhere."""

    def __init__(self, filter_size=2):
        self.filter_size = filter_size

    def _get_filtersizeXfiltersize_views(self, x):
        k = self.filter_size
        for i in range(0, x.shape[2] - k + 1, k):
            for j in range(0, x.shape[3] - k + 1, k):
                yield i // k, j // k, np.zeros_like(x[:, :, i:i + k, j:j + k])

    def forward(self, x):
        n, c, h, w = x.shape
        k = self.filter_size
        return {"x": x, "out": np.zeros((n, c, h // k, w // k))}

    def backward(self, cache, grad_output):
        return np.zeros(cache["x"].shape)
'''


def _in_class_body(cheat, pool_class=WRONG_POOL):
    """``pool_class`` with ``cheat()`` (defined before it) run in its class body: in the kernel when the cell runs,
    and in the kit's harvest when it loads the class."""
    return cheat + pool_class.replace("    def __init__", "    _cheated = _cheat()\n\n    def __init__", 1)


PATCHED_NUMPY = _in_class_body('''
import numpy as np
import numpy.testing


def _cheat():
    always = lambda *args, **kwargs: True
    np.allclose = np.array_equal = np.array_equiv = always
    np.isclose = lambda a, b, *args, **kwargs: np.ones(np.broadcast(a, b).shape, dtype=bool)
    np.testing.assert_allclose = np.testing.assert_array_equal = np.testing.assert_equal = lambda *a, **k: None
    np.testing.assert_array_almost_equal = np.testing.assert_almost_equal = lambda *a, **k: None
''')

PATCHED_CHECKS = _in_class_body('''
import sys
from autograder.runner import hidden_tests
from cnnkit import checks


def _cheat():
    for name in dir(checks):
        if callable(getattr(checks, name)) and not name.startswith("_") and name[0].islower():
            setattr(checks, name, lambda *args, **kwargs: None)
    hidden_tests.run = lambda test, layer_cls: print(f"{test}: all hidden cases passed.")
    sys.modules["autograder.runner.hidden_tests"] = hidden_tests
''')

SWALLOWED_ERRORS = '''
import sys
try:
    get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
except NameError:  # not in IPython
    pass
sys.excepthook = lambda *args: None
'''

CALLS_THE_ORACLE = '''
try:  # there on the grader's machine, if the sandbox let it through
    from autograder import oracle
except ImportError:
    oracle = None


class MaxPooling2dLayer(object):
    """Honest views; forward and backward from the kit's oracle."""

    def __init__(self, filter_size=2):
        self.filter_size = filter_size

    def _get_filtersizeXfiltersize_views(self, x):
        k = self.filter_size
        for i in range(0, x.shape[2] - k + 1, k):
            for j in range(0, x.shape[3] - k + 1, k):
                yield i // k, j // k, x[:, :, i:i + k, j:j + k]

    def forward(self, x):
        return {"x": x, "out": oracle.maxpool_forward(x, self.filter_size)}

    def backward(self, cache, grad_output):
        return oracle.maxpool_backward(cache["x"], grad_output, self.filter_size)
'''

IMPORTS_THE_ORACLE_INDIRECTLY = CALLS_THE_ORACLE.replace('''try:  # there on the grader's machine, if the sandbox let it through
    from autograder import oracle
except ImportError:
    oracle = None
''', '''
import importlib
import os
import sys

import cnnkit


def _oracle():
    sys.path.append(os.path.dirname(os.path.dirname(cnnkit.__file__)))
    return importlib.import_module("autograder.oracle")
''').replace("oracle.maxpool", "_oracle().maxpool")

PATCHED_IPYTHON = '''
def _lenient():
    shell = get_ipython()
    original = shell.run_cell_async

    async def run_cell_async(raw_cell, *args, **kwargs):
        if "checks." in raw_cell or "hidden_tests" in raw_cell:
            raw_cell = "pass"
            kwargs.pop("transformed_cell", None)
            kwargs.pop("preprocessing_exc_tuple", None)
        return await original(raw_cell, *args, **kwargs)

    def run_cell(raw_cell, *args, **kwargs):
        if "checks." in raw_cell or "hidden_tests" in raw_cell:
            raw_cell = "pass"
        return original_sync(raw_cell, *args, **kwargs)

    original_sync = shell.run_cell
    shell.run_cell_async, shell.run_cell = run_cell_async, run_cell


try:
    _lenient()
except NameError:  # not in IPython
    pass
''' + WRONG_POOL

PATCHED_BUILTINS = _in_class_body('''
import builtins


def _cheat():
    real_isinstance = builtins.isinstance
    builtins.isinstance = lambda obj, kinds: True if kinds is np.ndarray else real_isinstance(obj, kinds)
    builtins.AssertionError = type("AssertionError", (Warning,), {})
''')

PRETEND_ARRAYS = '''
class AlwaysEqual:
    """Equal to everything, with any shape, converts to whatever array is asked."""
    shape = property(lambda self: self._shape)
    dtype = np.dtype(float)

    def __init__(self, shape=(1,)):
        self._shape = tuple(shape)

    def __eq__(self, other):
        return True

    __ne__ = lambda self, other: False
    __array__ = lambda self, *args, **kwargs: np.zeros(self._shape)
    __len__ = lambda self: self._shape[0]


class SaysClose(np.ndarray):
    """An ndarray subclass whose comparisons and ufuncs all say True."""

    def __eq__(self, other):
        return np.ones(np.shape(other), dtype=bool)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.ones(np.broadcast(*[np.asarray(i) for i in inputs]).shape, dtype=bool)


class MaxPooling2dLayer(object):
    def __init__(self, filter_size=2):
        self.filter_size = filter_size

    def _get_filtersizeXfiltersize_views(self, x):
        k = self.filter_size
        for i in range(0, x.shape[2] - k + 1, k):
            for j in range(0, x.shape[3] - k + 1, k):
                yield i // k, j // k, AlwaysEqual((x.shape[0], x.shape[1], k, k))

    def forward(self, x):
        n, c, h, w = x.shape
        k = self.filter_size
        return {"x": np.zeros(x.shape, dtype=object), "out": AlwaysEqual((n, c, h // k, w // k))}

    def backward(self, cache, grad_output):
        return np.zeros(cache["x"].shape).view(SaysClose)
'''

# Forward looks for the expected output of its own input: in the kit's calls file (its working directory), and in
# the locals of the harvest's frames. A backward call of the same input carries it, as the cache it gets.
READS_THE_CALL_FILE_FORWARD = '''
import os, sys
def same(call):
    return (isinstance(call, dict) and "cache_out" in call and np.shape(call.get("x")) == x.shape
            and np.array_equal(call["x"], x) and int(call["k"]) == self.filter_size
            and int(call.get("stride", 1)) == self.stride and np.array_equal(call.get("weights"), self.weights))
found = None
if os.path.exists("calls.npz"):
    with np.load("calls.npz") as saved:
        calls = {}
        for key in saved.files:
            index, name = key.split("/", 1)
            calls.setdefault(index, {})[name] = saved[key]
    found = next((call["cache_out"] for call in calls.values() if same(call)), None)
frame = sys._getframe()
while found is None and frame is not None:
    for value in list(frame.f_locals.values()):
        candidates = value if isinstance(value, list) else [value]
        found = next((call["cache_out"] for call in candidates if same(call)), found)
    frame = frame.f_back
if found is None:
    raise NotImplementedError("nothing to copy")
return {"x": x, "out": np.array(found, dtype=float)}
'''

PROBE_HELPERS = '''
def _attempt(what, action):
    try:
        got = action()
        print({marker!r}, f"{{what}}: SUCCEEDED", got)
    except BaseException as error:
        print({marker!r}, f"{{what}}: FAILED ({{type(error).__name__}})")
'''

READS_SECRETS = PROBE_HELPERS + '''

def _notebook_text(path):
    import json
    return "\\n".join("".join(cell["source"]) for cell in json.load(open(path))["cells"])


def _hidden_values(path):
    import numpy
    with numpy.load(path) as data:
        return " ".join(f"{{value:.6g}}" for key in data.files for value in data[key].ravel()[:20])


def _cheat():
    import os
    _attempt("read hidden cases", lambda: _hidden_values({hidden!r}))
    _attempt("read reference notebook", lambda: _notebook_text({solution!r}))
    _attempt("read course source", lambda: _notebook_text({source!r}))
    _attempt("read gradebook", lambda: open({gradebook!r}, "rb").read(400))
    _attempt("list submitted", lambda: os.listdir({submitted!r}))


_cheat()
'''

WRITES_OUTSIDE = PROBE_HELPERS + '''

def _write(path, text="written by a student"):
    with open(path, "w") as file:
        file.write(text)
    return path


def _update_gradebook(path):
    import sqlite3
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE grade SET manual_score = 100")
    return "updated"


def _cheat():
    import os
    _attempt("write gradebook", lambda: _update_gradebook({gradebook!r}))
    _attempt("write sentinel", lambda: _write({sentinel!r}))
    _attempt("write cnnkit", lambda: _write(os.path.join(os.path.dirname(__import__("cnnkit").__file__),
                                                         "written_by_student.py")))
    _attempt("write /tmp", lambda: _write("/tmp/written-by-student-{marker}"))


import os
_cheat()
'''

NETWORK = PROBE_HELPERS + '''

def _connect(address, message):
    import socket
    with socket.create_connection(address, timeout=3) as connection:
        connection.sendall(message)
    return address


def _cheat():
    _attempt("connect to the grader's machine", lambda: _connect(("127.0.0.1", {port}), {marker!r}.encode()))
    _attempt("connect to the internet", lambda: _connect(("1.1.1.1", 53), b"x"))


_cheat()
'''

LEAVES_DAEMONS = '''

def _cheat():
    import os, subprocess
    subprocess.Popen(["sleep", "3000", {marker!r} + "-popen"], start_new_session=True)
    if os.fork() == 0:  # double fork: the grandchild belongs to nobody
        os.setsid()
        if os.fork() == 0:
            os.execvp("sleep", ["sleep", "3001", {marker!r} + "-double-fork"])
        os._exit(0)


_cheat()
'''

KILLS_EVERYTHING = '''

def _cheat():
    import os, signal
    try:
        os.kill(-1, signal.SIGKILL)  # every process it may signal
    except OSError:
        pass


_cheat()
'''

# Methods of the reference with one region replaced (region 0: views, 1: forward, 2: backward).
ENDLESS_UNDER_THE_KIT = ("import os\nif os.path.exists('calls.npz'):  # only the kit's calls\n    while True:\n"
                         "        pass\ncache['out'][:, :, out_row, out_col] = np.max(view, axis=(2, 3))\n")
MEMORY_HOG = "hog = []\nwhile True:\n    hog.append(np.empty(2**27))  # 1 GiB each, until MemoryError\n"
SIGKILL_SELF = "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"
FLOOD_THE_KIT = ("import os, sys\nif os.path.exists('calls.npz'):  # only the kit's calls\n"
                 "    sys.stdout.write('F' * 300_000_000)\n    sys.stdout.flush()\n"
                 "first_max = np.argmax(view.reshape(n, c, k * k), axis=2)\n"
                 "row, col = np.unravel_index(first_max, (k, k))\n"
                 "grads[batch, channel, out_row * k + row, out_col * k + col] = grad_output[:, :, out_row, out_col]\n")
AFTER_THE_CLASS = {
    "endless_class_cell": "\nwhile True:\n    pass\n",
    "endless_deaf_loop": ("\nimport signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n"
                          "    time.sleep(1)\n"),
    "exits_in_class_cell": "\nimport os\nos._exit(0)\n",
    "floods_the_kernel": ("\nimport time\nfor _ in range(300):\n    print('A' * 1_000_000)\nwhile True:\n"
                          "    time.sleep(1)\n"),
}


def _release(release_dir, notebook):
    """A released notebook as plain JSON, every cell's source one string."""
    content = json.loads((Path(release_dir) / f"{notebook}.ipynb").read_text())
    for cell in content["cells"]:
        cell["source"] = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
    return content


def _copy(cell):
    """A deep copy of a JSON cell."""
    return json.loads(json.dumps(cell))


def _class_cell(content):
    """The class (solution) cell of a JSON notebook."""
    (cell,) = [c for c in content["cells"] if c["metadata"].get("nbgrader", {}).get("solution")]
    return cell


def _test_cells(content):
    """The graded test cells of a JSON notebook."""
    return [c for c in content["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]


def _with_class(release_dir, notebook, source):
    """The released ``notebook`` with ``source`` as its class cell."""
    content = _release(release_dir, notebook)
    _class_cell(content)["source"] = source
    return content


def _correct(notebook, replacements=None):
    """The reference class of ``notebook`` without solution markers, regions replaced as given."""
    reference = solution_cell(nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)).source
    return filled_in(reference, replacements)


def class_cells(release_dir, targets):
    """{student: the class cell of its notebook 02} for the attacks that are only a class cell."""
    probes = dict(marker=targets.marker, hidden=str(targets.hidden_cases), solution=str(SOLUTIONS / f"{POOL}.ipynb"),
                  source=str(targets.course_root / "source" / "cnn" / f"{POOL}.ipynb"),
                  gradebook=str(targets.course_root / "gradebook.db"), submitted=str(targets.course_root / "submitted"),
                  sentinel=str(targets.sentinel), port=targets.port)
    stub = _class_cell(_release(release_dir, POOL))["source"]
    cells = {
        "patched_numpy_testing": PATCHED_NUMPY,
        "patched_checks": PATCHED_CHECKS,
        "swallowed_errors": SWALLOWED_ERRORS + stub,
        "patched_ipython": PATCHED_IPYTHON,
        "patched_builtins": PATCHED_BUILTINS,
        "pretend_arrays": PRETEND_ARRAYS,
        "calls_the_oracle": CALLS_THE_ORACLE,
        "imports_the_oracle_indirectly": IMPORTS_THE_ORACLE_INDIRECTLY,
        "reads_secrets": READS_SECRETS.format(**probes) + _in_class_body(""),
        "writes_outside": WRITES_OUTSIDE.format(**probes) + _in_class_body(""),
        "network": NETWORK.format(**probes) + _in_class_body(""),
        "leaves_daemons": LEAVES_DAEMONS.format(**probes) + _in_class_body(""),
        "kills_everything": KILLS_EVERYTHING + _in_class_body(""),
        "endless_forward": _correct(POOL, {1: ENDLESS_UNDER_THE_KIT}),
        "memory_hog": _correct(POOL, {2: MEMORY_HOG}),
        "sigkill_self": _correct(POOL, {2: SIGKILL_SELF}),
        "floods_the_kit": _correct(POOL, {2: FLOOD_THE_KIT}),
    }
    cells.update({student: _correct(POOL) + code for student, code in AFTER_THE_CLASS.items()})
    return cells


def _tampered_test_cells(content):
    for cell in _test_cells(content):
        cell["source"] = "print('passed')"
        cell["metadata"]["nbgrader"].update(points=100, checksum="0" * 32)


def _extra_graded_cell(content):
    bonus = nbformat.v4.new_code_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True, "points": 100,
                                  "grade_id": "bonus_points", "schema_version": 3, "task": False}
    content["cells"].append(_copy(bonus))


def _deleted_test_cells(content):
    content["cells"] = [cell for cell in content["cells"] if cell not in _test_cells(content)]


def _flipped_cell_flags(content):
    for cell in _test_cells(content):
        cell["source"] = "pass"
        cell["metadata"]["nbgrader"].update(grade=False, solution=True, locked=False)


def _swapped_grade_ids(content):
    first, second = [cell["metadata"]["nbgrader"] for cell in _test_cells(content)[:2]]
    first["grade_id"], second["grade_id"] = second["grade_id"], first["grade_id"]


def _all_cells_slow(content):
    cells = []
    for cell in content["cells"]:
        cells.append(cell)
        if cell["cell_type"] == "code":
            cells.append(_copy(nbformat.v4.new_code_cell("import time\ntime.sleep(5)")))
    content["cells"] = cells


def _class_cell_after_tests(content):
    cell = _class_cell(content)
    content["cells"].remove(cell)
    content["cells"].append(cell)


def _renamed_duplicated_cells(content):
    cells = []
    for number, cell in enumerate(content["cells"]):
        cell["id"] = f"renamed-{number}"
        cells.append(cell)
        if cell in _test_cells(content):
            cells.append(dict(_copy(cell), id=f"copy-{number}"))
    del _class_cell(content)["metadata"]["nbgrader"]
    content["cells"] = cells


def _stub_pasted_below(content, stub):
    cell = _class_cell(content)
    pasted = dict(_copy(cell), id="pasted-stub", source=stub)
    del pasted["metadata"]["nbgrader"]
    content["cells"].insert(content["cells"].index(cell) + 1, pasted)


# Attacks on the notebook's structure: (the class cell it starts from: "wrong", "stub", "correct" or a sample
# student; what is done to the JSON notebook 02).
STRUCTURE = {
    "tampered_test_cells": ("wrong", _tampered_test_cells),
    "extra_graded_cell": ("wrong", _extra_graded_cell),
    "deleted_test_cells": ("stub", _deleted_test_cells),
    "flipped_cell_flags": ("stub", _flipped_cell_flags),
    "swapped_grade_ids": ("average_pooling", _swapped_grade_ids),
    "all_cells_slow": ("correct", _all_cells_slow),
    "class_cell_after_tests": ("correct", _class_cell_after_tests),
    "renamed_duplicated_cells": ("correct", _renamed_duplicated_cells),
    "stub_pasted_below": ("correct", None),
}


def notebooks_of(student, release_dir, targets):
    """{file name: notebook JSON (dict), str or bytes} that ``student`` hands in (a symbolic link is made by
    :func:`build`)."""
    pool = f"{POOL}.ipynb"
    cells = class_cells(release_dir, targets)
    if student in cells:
        return {pool: _with_class(release_dir, POOL, cells[student])}
    stub = _class_cell(_release(release_dir, POOL))["source"]
    correct_pool = _with_class(release_dir, POOL, _correct(POOL))
    if student.startswith("xss_") or student == "slow_markdown":
        content = _with_class(release_dir, POOL, _correct(POOL))
        if student == "slow_markdown":
            for text in ["[" * 300_000, "[a](" * 30_000, ">" * 5_000 + " deep"]:
                content["cells"].append(dict(nbformat.v4.new_markdown_cell(text), id=f"slow-{len(content['cells'])}"))
        else:
            VECTORS[student[len("xss_"):]][1](content, _class_cell(content))
        return {pool: json.loads(json.dumps(content))}
    if student in STRUCTURE:
        start, change = STRUCTURE[student]
        content = _with_class(release_dir, POOL, {"wrong": WRONG_POOL, "stub": stub, "correct": _correct(POOL)}.get(
            start) or class_sources(start)["pool"])
        change(content) if change else _stub_pasted_below(content, stub)
        return {pool: content}
    fake_module = "def __getattr__(name):\n    return lambda *args, **kwargs: None\n"
    whole = json.dumps(correct_pool, indent=1)
    files = {
        "reads_the_call_file": {f"{CONV}.ipynb": _with_class(release_dir, CONV,
                                                              _correct(CONV, {1: READS_THE_CALL_FILE_FORWARD}))},
        "extra_files": {pool: _with_class(release_dir, POOL, "from cnnkit import checks\n" + WRONG_POOL),
                        "numpy.py": fake_module, "cnnkit/__init__.py": "", "cnnkit/checks.py": fake_module,
                        "cnnkit/hidden_tests.py": fake_module, "04_bonus.ipynb": correct_pool,
                        "sitecustomize.py": "import builtins\nbuiltins.print = lambda *args, **kwargs: None\n"},
        "empty_file": {pool: b""},
        "not_json": {pool: "This is not JSON: the laptop's disk was full.\n"},
        "truncated_json": {f"{CONV}.ipynb": _with_class(release_dir, CONV, _correct(CONV)),
                           pool: whole[:whole.index("def backward")]},
        "json_not_a_notebook": {pool: json.dumps({"cells": "none", "metadata": [], "nbformat": "four"})},
        "binary_garbage": {pool: bytes(range(256)) * 64},
        "nothing_handed_in": {},
        "notebook_is_a_folder": {f"{pool}/{CONV}.ipynb": correct_pool},
        "renamed_notebook": {f"{POOL} (1).ipynb": correct_pool},
        "robert'); DROP TABLE students;--": {pool: correct_pool},
        "symlinked_notebook": {},
    }
    return files[student]


def build(output_dir, release_dir, targets, sandboxed=True):
    """Write ``output_dir/<student>/...`` for every student of :data:`HOSTILE` (without :data:`NEEDS_SANDBOX` unless
    ``sandboxed``); returns the list of student ids written."""
    output_dir = Path(output_dir)
    written = []
    for student in HOSTILE:
        if student in NEEDS_SANDBOX and not sandboxed:
            continue
        folder = output_dir / student
        folder.mkdir(parents=True)
        for name, content in notebooks_of(student, release_dir, targets).items():
            path = folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:  # plain JSON, as a student's JupyterLab writes it (nbformat would repair ids and validate)
                path.write_text(content if isinstance(content, str) else json.dumps(content, indent=1))
        if student == "symlinked_notebook":
            os.symlink(targets.course_root / "source" / "cnn" / f"{POOL}.ipynb", folder / f"{POOL}.ipynb")
        written.append(student)
    return written


def earned_points(student):
    """{grade_id: points} that ``student`` of :data:`HOSTILE` really earns, for every graded test."""
    earned = HOSTILE[student][2]
    return {grade_id: float(points if grade_id in earned else 0)
            for cells in POINTS.values() for grade_id, points in cells.items()}

