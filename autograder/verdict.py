"""The kit's verdict on each graded test: computed here, from what the student's code returned.

For every graded test cell, the student's class is called on the visible cases and on the
instructor's hidden cases by :mod:`autograder.runner.harvest`, in the sandbox, in a scratch folder that holds
copies of the student's notebooks only. Its outputs come back as plain arrays (``.npz`` read without
pickles); this process, which the student's code cannot reach, compares them with the oracle.
The harvest defines the classes by running the student's code as the kernel did (see
:mod:`cnnkit.notebook_loader`), once per process: each cell has nbgrader's cell time limit, and a statement that
ends the process is skipped in the next one. Then time limits: one per call (a call past it is counted as failed
and the harvest goes on after it in a new process) and one per notebook; a crash fails the call it happened in,
not the others.

A test earns its points when every one of its calls returned the expected values; the accuracy test
of notebook 03 when the network trained with the student's layers reads at least
:data:`cnnkit.network.MINIMUM_ACCURACY` of the test digits and the four layer tests that training relies on earned theirs.
"""

import contextlib
import itertools
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder import hidden_cases, mistakes, oracle, sandbox, stages
from autograder.runner import harvest as harvest_runner
from autograder.time_limits import seconds
from cnnkit import checks, network, position_loops
from cnnkit.ast_lock import AST_LOCK
from cnnkit.checks import view_start_cause
from cnnkit.diagnosis import likely_cause
from cnnkit.notebook_loader import code_that_runs

CELL_TIMEOUT = seconds("CNNKIT_CELL_TIMEOUT")  # as in nbgrader's run
CALL_TIMEOUT = seconds("CNNKIT_CALL_TIMEOUT")
TRAINING_TIMEOUT = seconds("CNNKIT_TRAINING_TIMEOUT")
NOTEBOOK_TIMEOUT = seconds("CNNKIT_NOTEBOOK_TIMEOUT")
STARTUP_SECONDS = 30.0  # extra time for the first call of each process, and for a statement past its cell's limit
MAX_LOAD_RESTARTS = 5  # statements that end the process while the classes are defined, skipped one per restart
LARGEST_RESULT = 64 * sandbox.MIB
TRAINING_NEEDS = [check.__name__ for *_, layer_checks in network.LAYER_CHECKS for check in layer_checks]
TRAINING_TEST = "cnn_test_accuracy"
SKIPPED = "not run: an earlier call of the same test timed out or crashed"


@dataclass
class TestVerdict:
    """The kit's verdict on one graded test."""

    passed: bool
    reason: str = ""  # why it failed (for the instructor's reports)


@dataclass
class NotebookVerdict:
    tests: dict = field(default_factory=dict)  # grade_id -> TestVerdict
    timed_out: list = field(default_factory=list)  # descriptions of calls stopped at a time limit
    crashed: list = field(default_factory=list)  # descriptions of calls whose process died
    cell_errors: list = field(default_factory=list)  # the student's cells that raised while the classes were defined


# ---- the calls ---------------------------------------------------------------------------------------

BOTH = ["forward", "backward"]
CALL_KINDS = {"conv_batch_of_one": BOTH, "conv2d_batch_of_one": BOTH, "fastconv2d": BOTH}  # else the id's 2nd word
VECTORISED_TEST = "fastconv2d"  # its layer must not loop in Python over the output positions
JUDGED_GRADIENTS = {"conv2d_backward_params": ("weights", "bias"), "conv2d_backward_input": ("x",)}  # else all three
NOT_SENT = {"label", "judged"}  # what a call carries for the judging only


def _call(kind, case, label, layer, judged=harvest_runner.GRADIENTS):
    """One call to the student's ``layer`` (a key of autograder.runner.harvest.CLASSES) on a case (a dict as in
    cnnkit.casefile); a backward call carries the oracle's forward output as its cache, and ``judged``, the
    gradients of notebook 04's conv layers that its test compares."""
    x = case["x"]
    call = {"kind": kind, "layer": layer, "label": label, "x": x}
    if layer in ("conv", "conv2d", "fastconv2d"):
        weights, stride = case["weights"], int(case["stride"])
        call.update(k=weights.shape[-1], stride=stride)
        if kind != "views":
            call["weights"] = weights
        if layer != "conv":
            call.update(bias=case["bias"], padding=int(case["padding"]))
        if kind == "backward":
            call["grad_output"] = case["grad_output"]
            call["cache_out"] = oracle.conv_forward(x, weights, stride) if layer == "conv" else \
                oracle.conv2d(x, weights, case["bias"], stride, call["padding"])
            if layer != "conv":
                call["judged"] = judged
        return call
    call["k"] = int(case["k"])
    if layer == "pool2d":
        call["stride"] = int(case["stride"])
    if kind == "backward":
        call.update(grad_output=case["grad_output"],
                    cache_out=oracle.maxpool2d_forward(x, call["k"], call.get("stride", call["k"])))
    return call


def calls_of(grade_id, hidden):
    """The calls of one graded test: its visible cases, then its hidden ones.

    :param hidden: {grade_id: [case dict, ...]}, the instructor's cases (see autograder/hidden_cases.py).
    """
    if grade_id == TRAINING_TEST:
        return [{"kind": "train", "layer": "both", "epochs": network.GRADING_EPOCHS,
                 "label": f"training notebook 03's network for {network.GRADING_EPOCHS} epochs"}]
    secret = hidden[grade_id]
    cases = [(case, case["label"]) for case in checks.visible_cases(grade_id)] + \
        [(case, f"hidden case {i} of {len(secret)}") for i, case in enumerate(secret, start=1)]
    kinds = CALL_KINDS[grade_id] if grade_id in CALL_KINDS else [grade_id.split("_")[1]]
    layer, judged = grade_id.split("_")[0], JUDGED_GRADIENTS.get(grade_id, harvest_runner.GRADIENTS)
    calls = [_call(kind, case, label, layer, judged) for case, label in cases for kind in kinds]
    if grade_id == VECTORISED_TEST:
        calls += [_positions_call(probe) for probe in position_loops.PROBES]
    return calls


def _positions_call(probe):
    """The call that counts the lines of the student's code at two input sizes (see cnnkit.position_loops)."""
    small, large = (probe.inputs(output) for output in position_loops.OUTPUTS)
    return {"kind": "positions", "layer": VECTORISED_TEST, "label": "two input sizes, lines of code counted",
            "k": probe.k, "stride": probe.stride, "padding": probe.padding, **small,
            "x_large": large["x"], "grad_output_large": large["grad_output"]}


def load_hidden(path):
    """{grade_id: [case dict, ...]} from the instructor's hidden cases file (read here, never in the sandbox); raises
    :class:`autograder.hidden_cases.StaleHiddenCases` when it has not the cases of exactly the graded tests."""
    return hidden_cases.read_checked(path, checks.RUNNERS)


def _write_calls(calls, path, first=0, count=None):
    """Write ``calls`` (global indices from ``first``) to a calls file, in one step (see autograder.runner.harvest)."""
    arrays = {} if count is None else {"count": np.asarray(count)}
    for index, call in enumerate(calls, start=first):
        for name, value in call.items():
            if name not in NOT_SENT:
                arrays[f"{index}/{name}"] = np.asarray(value)
        if call["kind"] == "views":
            h, w = call["x"].shape[2:]
            stride = call.get("stride", call["k"])
            count_here = oracle.conv_output_size(h, call["k"], stride) * oracle.conv_output_size(w, call["k"], stride)
            arrays[f"{index}/max_items"] = np.asarray(count_here + 1)
    harvest_runner.save_arrays(path, arrays)


# ---- running the student's code ----------------------------------------------------------------------

def _read_result(results_fd, index):
    """The arrays of RESULTS/<index>.npz, or None if it is not there yet. The file is opened without following
    links, relative to the folder opened before the student's code ran: only a regular file written there counts.
    """
    try:
        fd = os.open(f"{index}.npz", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=results_fd)
    except FileNotFoundError:
        return None
    except OSError:
        return {"error": "its result was not a regular file"}
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(file.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > LARGEST_RESULT:
            return {"error": "its result was not a regular file of at most 64 MiB"}
        try:
            with AST_LOCK, np.load(file, allow_pickle=False) as data:
                return {name: data[name] for name in data.files}
        except Exception as error:
            return {"error": f"its result could not be read ({type(error).__name__})"}


def _tail(log):
    try:
        with open(log, "rb") as file:
            file.seek(max(0, os.path.getsize(log) - 300))
            lines = file.read().decode("utf-8", "replace").strip().splitlines()
        return f" (last output: {lines[-1][:200]})" if lines else ""
    except OSError:
        return ""


def _progress(results_fd):
    """What the harvest says it is doing: ("load", notebook, cell, statement), ("call", index) or None."""
    try:
        fd = os.open("progress", os.O_RDONLY | os.O_NOFOLLOW, dir_fd=results_fd)
    except OSError:
        return None
    try:
        words = os.pread(fd, harvest_runner.PROGRESS_BYTES, 0).decode("ascii", "replace").split()
    finally:
        os.close(fd)
    if len(words) == 4 and words[0] == "load" and words[2].isdigit() and words[3].isdigit():
        return "load", words[1], int(words[2]), int(words[3])
    if len(words) == 2 and words[0] == "call" and words[1].isdigit():
        return "call", int(words[1])
    return None


def _load_problems(results_fd, own_notebooks):
    """What went wrong in the cells of ``own_notebooks`` while the harvests defined the classes, once each."""
    problems = []
    for name in sorted(os.listdir(results_fd)):
        notebook = name[len("load-"):].rsplit("-", 1)[0] if name.startswith("load-") else None
        if notebook in own_notebooks:
            found = _read_result(results_fd, name[:-len(".npz")])
            for problem in found.get("problems", []) if found else []:
                line = f"{notebook}: {problem}"
                if line not in problems:
                    problems.append(line)
    return problems


@dataclass
class Harvest:
    """What :func:`harvest` brought back."""

    outcomes: list  # per call: the dict of its saved outputs, or a string saying why there is none
    timed_out: list = field(default_factory=list)  # cells stopped at their time limit, or not run for lack of time
    crashed: list = field(default_factory=list)  # cells that ended the process (skipped in the next one)
    cell_errors: list = field(default_factory=list)  # cells that raised


def harvest(phases, notebooks, notebook_timeout=NOTEBOOK_TIMEOUT, tests=None, own_notebooks=None):
    """Run the calls on the student's classes in the sandbox, in one process as long as nothing goes wrong.

    :param phases: lists of calls; a phase's calls reach the process only once every call before them has its
        outcome (a backward call carries the expected output of forward: no forward call may find it).
    :param notebooks: paths of the student's notebooks to copy into the scratch folder.
    :param tests: the graded test of each call (calls of a test next to each other; default: every call its own).
        Once a call timed out or crashed, its test has failed: the test's other calls are skipped, so that one
        endless or crashing method costs one time limit per test, not one per call, and cannot use up the
        notebook's time limit before the tests that do not call it.
    :param own_notebooks: the names of the notebooks whose cell problems to report (default: all of them).
    :returns: a :class:`Harvest`; an outcome string is "timed out: ...", "crashed: ..." or :data:`SKIPPED`.

    Defining the classes (running the notebook's code) has its own limits: each cell its cell time limit, all of
    them the notebook's; the notebook's time limit for the calls starts when the first process has defined them.
    A statement that ends the process, or ignores its time limit, is skipped in the next process.
    """
    calls = [call for phase in phases for call in phase]
    ends = list(itertools.accumulate(len(phase) for phase in phases))
    tests = list(range(len(calls))) if tests is None else tests
    own_notebooks = {Path(path).name for path in notebooks} if own_notebooks is None else set(own_notebooks)
    scratch = sandbox.scratch_folder("verdict-")
    results_dir = scratch / "results"
    results_dir.mkdir()
    results_fd = os.open(results_dir, os.O_RDONLY | os.O_DIRECTORY)
    for notebook in notebooks:
        shutil.copyfile(notebook, scratch / Path(notebook).name)
    log = scratch / "output.log"
    found = Harvest([None] * len(calls))
    outcomes = found.outcomes
    deadline, skip, restarts, first, failed_starts, written = None, [], 0, 0, 0, 0

    def release_phases(index):
        nonlocal written
        while written < len(phases) and (written == 0 or index >= ends[written - 1]):
            start = ends[written - 1] if written else 0
            _write_calls(phases[written], scratch / harvest_runner.phase_file(written), start,
                         count=len(calls) if written == 0 else None)
            written += 1

    try:
        while first < len(calls):
            release_phases(first)
            with contextlib.suppress(FileNotFoundError):  # the last process's record would mislead
                os.unlink("progress", dir_fd=results_fd)
            argv = [sys.executable, "-I", "-m", "autograder.runner.harvest", str(results_dir), str(first),
                    "--cell-timeout", str(CELL_TIMEOUT), "--load-timeout", str(notebook_timeout), "--skip", *skip]
            with open(log, "ab") as output:
                process = subprocess.Popen(sandbox.command(argv, scratch), cwd=scratch, stdin=subprocess.DEVNULL,
                                           stdout=output, stderr=output, preexec_fn=sandbox.preexec())
            index, started, stuck = first, time.monotonic(), None  # stuck: (statement, since when it runs)
            try:
                while index < len(calls):
                    result = _read_result(results_fd, index)
                    if result is not None:
                        if calls[index]["kind"] == "train":
                            stages.add("training", time.monotonic() - started)
                        outcomes[index], index, started = result, index + 1, time.monotonic()
                        release_phases(index)
                        continue
                    now, doing = time.monotonic(), _progress(results_fd)
                    if doing and doing[0] == "load":
                        statement = f"{doing[1]}:{doing[2]}:{doing[3]}"
                        stuck = stuck if stuck and stuck[0] == statement else (statement, now)
                        if process.poll() is None and now - stuck[1] <= CELL_TIMEOUT + STARTUP_SECONDS:
                            time.sleep(0.01)
                            continue
                        how = "ran past its time limit and could not be stopped" if process.poll() is None else \
                            f"ended the process (status {process.returncode})"
                        (found.crashed if process.poll() is not None else found.timed_out).append(
                            f"{doing[1]}: code cell {doing[2]} {how}; the rest of the notebook ran without it"
                            f"{_tail(log)}")
                        skip.append(statement)
                        restarts += 1
                        break
                    if stuck is not None:  # the classes are defined: the call's clock starts now
                        stuck, started = None, now
                    if deadline is None and (doing or index > first):  # the notebook's clock, from the first call
                        deadline = now + notebook_timeout
                    allowed = TRAINING_TIMEOUT if calls[index]["kind"] == "train" else CALL_TIMEOUT
                    allowed += STARTUP_SECONDS if index == first else 0
                    if deadline is not None and now > deadline:
                        for rest in range(index, len(calls)):
                            outcomes[rest] = f"timed out: the notebook's time limit ({notebook_timeout:.0f} s) ran out"
                        index = len(calls)
                        break
                    if now - started > allowed:
                        outcomes[index] = f"timed out: the call ran past its time limit ({allowed:.0f} s)"
                        index += 1
                        break
                    if process.poll() is not None:
                        result = _read_result(results_fd, index)  # written just before it exited?
                        if result is not None:
                            continue
                        outcomes[index] = f"crashed: its process ended with status {process.returncode}{_tail(log)}"
                        index += 1
                        break
                    time.sleep(0.01)
            finally:
                sandbox.kill_group(process.pid)
                process.wait()
            if restarts > MAX_LOAD_RESTARTS and index < len(calls):
                for rest in range(index, len(calls)):
                    outcomes[rest] = "crashed: not run, the notebook's code ended the process at every start"
                index = len(calls)
            failed_starts = failed_starts + 1 if index == first + 1 and isinstance(outcomes[first], str) else 0
            if failed_starts == 2 and index < len(calls):  # it dies at every start
                for rest in range(index, len(calls)):
                    outcomes[rest] = f"crashed: not run, the process died at every start{_tail(log)}"
                index = len(calls)
            if index > first and 0 < index < len(calls) and isinstance(outcomes[index - 1], str):
                failed_test = tests[index - 1]  # that call's test has failed
                while index < len(calls) and tests[index] == failed_test:
                    outcomes[index], index = SKIPPED, index + 1
            first = index
        for problem in _load_problems(results_fd, own_notebooks):
            timed = "time limit" in problem
            (found.timed_out if timed else found.cell_errors).append(problem)
    finally:
        os.close(results_fd)
        shutil.rmtree(scratch, ignore_errors=True)
    return found


# ---- code worth a human look -------------------------------------------------------------------------

# A class that returns what a library computes earns its points (its outputs are right) but deserves a look: the
# kit's oracle, SciPy, deep-learning frameworks, and dynamic imports that could hide them; and code that touches the
# line counter that tells a vectorised layer from a loop (cnnkit.position_loops).
BORROWED = re.compile(r"\b(oracle|scipy|torch|tensorflow|jax|keras|cupy|__import__|importlib|sys\.modules|"
                      r"settrace|position_loops|tracebacks|LIBRARIES|__defaults__|__code__)\b")


def borrowed_code(notebook):
    """The names in the code that runs to define the student's classes (see cnnkit.notebook_loader.code_that_runs)
    that point at a library implementation of the layer, sorted; empty when there is none or the notebook cannot be
    read."""
    try:
        return sorted(set(BORROWED.findall(code_that_runs(notebook))))
    except Exception:  # unreadable: the verdicts already say so
        return []


# ---- judging ------------------------------------------------------------------------------------------

def _config(call):
    if call["layer"] == "pool":
        return checks.describe_pool(call["x"].shape, call["k"], call["label"])
    if call["layer"] == "pool2d":
        return checks.describe_pool2d(call["x"].shape, call["k"], call["stride"], call["label"])
    n_filters = call["weights"].shape[0] if "weights" in call else None
    if call["layer"] != "conv":
        return checks.describe_conv2d(call["x"].shape, call["k"], call["stride"], call["padding"], n_filters,
                                      call["label"])
    return checks.describe_conv(call["x"].shape, call["k"], call["stride"], n_filters, call["label"])


def _as_value(saved):
    """A saved output back as the student's value: an array, or a stand-in whose type name says what it was."""
    if isinstance(saved, str) or (isinstance(saved, np.ndarray) and saved.dtype.kind == "U"):
        return _Unsaved(str(saved))
    return saved


class _Unsaved:
    """What the student returned when it was not a numeric array (only its description was saved)."""

    def __init__(self, description):
        self.description = description

    def __repr__(self):
        return self.description


def _problem(actual, expected, what, call=None, kind=None):
    """None if ``actual`` (as saved) matches ``expected``, else the reason; for a forward or backward ``call``, with
    its likely cause as an output of ``kind`` (:func:`cnnkit.diagnosis.likely_cause`, the known mistakes of
    autograder/mistakes.py first)."""
    actual = _as_value(actual)
    if isinstance(actual, _Unsaved):
        return f"{what} is not a numeric numpy array ({actual.description})"
    found = checks.find_problem(actual, expected, what, checks.RTOL, checks.ATOL)
    if found is None:
        return None
    cause = _likely_cause(call, kind, actual, expected) if call and found[0] in ("shape", "values") else None
    return " ".join([found[1], *found[2], *([f"Likely cause: {cause}"] if cause else [])])


def _output_kind(call, gradient=None):
    """The kind of output (see cnnkit.diagnosis) of a forward or backward call, of one gradient of notebook 04's conv
    layers."""
    layer = "conv2d" if call["layer"] == "fastconv2d" else call["layer"]
    return f"{layer}_{call['kind']}" + (f"_{gradient}" if gradient else "")


def _likely_cause(call, kind, actual, expected):
    """The likely cause of a wrong ``actual``, an output of ``kind`` of a forward or backward call."""
    case = {name: call[name] for name in ("x", "weights", "bias", "stride", "padding", "k", "grad_output")
            if name in call}
    case[mistakes.EXPECTED_FIELD[kind]] = expected
    return likely_cause(kind, actual, expected, {**case, **mistakes.signatures(kind, case)})


def _expected_forward(call):
    x, layer = call["x"], call["layer"]
    if layer == "conv":
        return oracle.conv_forward(x, call["weights"], call["stride"])
    if layer == "pool":
        return oracle.maxpool_forward(x, call["k"])
    if layer == "pool2d":
        return oracle.maxpool2d_forward(x, call["k"], call["stride"])
    return oracle.conv2d(x, call["weights"], call["bias"], call["stride"], call["padding"])


def _backward_problem(call, outputs):
    """None if the saved gradients of a backward ``call`` are right, else the reason."""
    x, k, layer, what = call["x"], call["k"], call["layer"], "backward(cache, grad_output)"
    if layer == "conv":
        expected = oracle.conv_weight_grad(x, call["grad_output"], k, call["stride"])
    elif layer in ("pool", "pool2d"):
        expected = oracle.maxpool2d_backward(x, call["grad_output"], k, call.get("stride", k))
    else:
        if "grads" in outputs:
            return f"{what} returned {outputs['grads']}, not the dict of the three gradients"
        expected = oracle.conv2d_backward(x, call["weights"], call["grad_output"], call["stride"], call["padding"])
        for key in call.get("judged", harvest_runner.GRADIENTS):
            problem = _problem(outputs.get(f"grads/{key}", "missing"), expected[key], f'{what}["{key}"]', call,
                               _output_kind(call, key))
            if problem:
                return problem
        return None
    return _problem(outputs.get("grads", "missing"), expected, what, call, _output_kind(call))


def _positions_problem(outputs):
    """None if the student's code ran about as many lines for both input sizes of a "positions" call, else why not."""
    lines, counts = outputs.get("lines"), outputs.get("line_counts")
    if not (isinstance(lines, np.ndarray) and lines.shape == (2,) and lines.dtype.kind in "iu"):
        return "its lines of code could not be counted"
    small, large = position_loops.OUTPUTS
    problem = position_loops.loop_problem(int(lines[0]), int(lines[1]), small, large)
    if problem and isinstance(counts, np.ndarray) and counts.shape == (2,) and "line" in outputs:
        problem += " Likely cause: " + position_loops.loop_cause((str(outputs["line"]), *map(int, counts)), small,
                                                                 large)
    return problem


def judge(call, outputs):
    """None if the saved ``outputs`` of ``call`` are right, else the reason."""
    if isinstance(outputs, str):
        return outputs
    if "error" in outputs:
        return f"raised {outputs['error']}"
    x, k = call["x"], call["k"]
    if call["kind"] == "forward":
        if "cache" in outputs:
            return f"forward(x) returned {outputs['cache']}, not the cache dict"
        return _problem(outputs.get("x", "missing"), x, 'forward(x)["x"]') or \
            _problem(outputs.get("out", "missing"), _expected_forward(call), 'forward(x)["out"]', call,
                     _output_kind(call))
    if call["kind"] == "backward":
        return _backward_problem(call, outputs)
    if call["kind"] == "positions":
        return _positions_problem(outputs)
    if call["kind"] == "views":
        stride = call.get("stride", k)
        h_out, w_out = oracle.conv_output_size(x.shape[2], k, stride), oracle.conv_output_size(x.shape[3], k, stride)
        if not bool(outputs.get("generator", False)):
            return "the views method is not a generator"
        if "item_type" in outputs:
            return f"the views generator yielded a wrong item: {outputs['item_type']}"
        rows, cols = outputs.get("rows", np.zeros(0)), outputs.get("cols", np.zeros(0))
        expected_rows, expected_cols = np.divmod(np.arange(h_out * w_out), w_out)
        step = "k" if call["layer"] == "pool" else "stride"  # as the code calls it
        yielded = [(int(r) if r >= 0 else None, int(c) if c >= 0 else None) for r, c in zip(rows, cols)]
        cause = checks.views_index_cause(yielded, (h_out, w_out), stride, step)
        because = f" Likely cause: {cause}" if cause else ""
        if len(rows) != h_out * w_out:
            return f"the views generator yielded {len(rows)} windows, expected {h_out * w_out}.{because}"
        if not (np.array_equal(rows, expected_rows) and np.array_equal(cols, expected_cols)):
            return f"the views generator yielded wrong (out_row, out_col) indices or a wrong order.{because}"
        for number, (p, q) in enumerate(zip(expected_rows, expected_cols)):
            i, j = p * stride, q * stride
            view = outputs.get(f"view/{number}", "missing")
            problem = _problem(view, x[:, :, i:i + k, j:j + k], f"the view of output ({p}, {q})")
            if problem:
                cause = view_start_cause(_as_value(view), x[:, :, p:p + k, q:q + k], step)
                return problem + (f" Likely cause: {cause}" if cause else "")
        return None
    raise ValueError(f"unknown call kind {call['kind']!r}")


def _judge_training(outcome, layer_tests):
    """The accuracy test: the four layer tests training relies on, then the predictions on the test digits."""
    failed = [name for name in TRAINING_NEEDS if not layer_tests.get(name, TestVerdict(False)).passed]
    if failed:
        return TestVerdict(False, f"the layers fail {', '.join(failed)}, which training relies on")
    if isinstance(outcome, str) or "error" in outcome:
        return TestVerdict(False, outcome if isinstance(outcome, str) else f"training raised {outcome['error']}")
    *_, y_test = network.split_digits()
    predictions = _as_value(outcome.get("predictions", "missing"))
    if not (isinstance(predictions, np.ndarray) and predictions.shape == y_test.shape):
        return TestVerdict(False, f"the predictions are not an array of shape {y_test.shape}")
    accuracy = float(np.mean(predictions == y_test))
    if accuracy < network.MINIMUM_ACCURACY:
        return TestVerdict(False, f"test accuracy {accuracy:.1%}, below {network.MINIMUM_ACCURACY:.0%}")
    return TestVerdict(True)


def judge_notebook(grade_ids, hidden, notebooks, layer_tests=None, notebook_timeout=NOTEBOOK_TIMEOUT):
    """The kit's verdict on the graded tests ``grade_ids`` of one notebook.

    :param hidden: the instructor's cases, see :func:`load_hidden`.
    :param notebooks: the student's notebook files the calls need (01 for the conv tests, 02 for the pooling
        tests, both for the accuracy test).
    :param layer_tests: for the accuracy test, the verdicts of notebooks 01 and 02 (grade_id -> TestVerdict).
    """
    verdict = NotebookVerdict()
    calls = [(grade_id, call) for grade_id in grade_ids for call in calls_of(grade_id, hidden)]
    if TRAINING_TEST in grade_ids and any(not (layer_tests or {}).get(name, TestVerdict(False)).passed
                                          for name in TRAINING_NEEDS):
        calls = [(g, c) for g, c in calls if g != TRAINING_TEST]  # no need to train: it cannot earn the points
        verdict.tests[TRAINING_TEST] = _judge_training(None, layer_tests or {})
    # A backward call carries the expected output of forward on its input (as its cache): the backward calls come
    # in a phase of their own, after the others, so that no forward call can find that output and return it.
    order = sorted(range(len(calls)), key=lambda index: calls[index][1]["kind"] == "backward")
    phases = [[calls[i][1] for i in order if (calls[i][1]["kind"] == "backward") == backward] for backward in (0, 1)]
    own = {harvest_runner.CLASSES[call["layer"]][0] for _, call in calls if call["kind"] != "train"}
    found = harvest([phase for phase in phases if phase], notebooks, notebook_timeout,
                    tests=[calls[i][0] for i in order], own_notebooks=own)
    outcomes = [None] * len(calls)
    for index, outcome in zip(order, found.outcomes):
        outcomes[index] = outcome
    verdict.timed_out += found.timed_out
    verdict.crashed += found.crashed
    verdict.cell_errors += found.cell_errors
    for (grade_id, call), outcome in zip(calls, outcomes):
        if isinstance(outcome, str) and outcome != SKIPPED:
            where = f"{grade_id}, {call['label']}"
            (verdict.timed_out if outcome.startswith("timed out") else verdict.crashed).append(f"{where}: {outcome}")
        if grade_id == TRAINING_TEST:
            verdict.tests[grade_id] = _judge_training(outcome, layer_tests or {})
        elif grade_id not in verdict.tests or verdict.tests[grade_id].passed:
            with checks.expected_values_hidden():
                reason = judge(call, outcome)
            if reason:
                verdict.tests[grade_id] = TestVerdict(False, f"{call['kind']}, {_config(call)}: {reason}")
            else:
                verdict.tests.setdefault(grade_id, TestVerdict(True))
    for grade_id in grade_ids:
        verdict.tests.setdefault(grade_id, TestVerdict(False, "not run"))
    return verdict
