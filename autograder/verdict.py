"""The kit's verdict on each graded test: computed here, from what the student's code returned.

For every graded test cell, the student's class is called on the visible cases and on the
instructor's hidden cases by :mod:`autograder.runner.harvest`, in the sandbox, in a scratch folder that holds
copies of the student's notebooks only. Its outputs come back as plain arrays (``.npz`` read without
pickles); this process, which the student's code cannot reach, compares them with the oracle.
Time limits: one per call (a call past it is counted as failed and the harvest goes on after it in
a new process) and one per notebook; a crash fails the call it happened in, not the others.

A test earns its points when every one of its calls returned the expected values; the accuracy test
of notebook 03 when the network trained with the student's layers reads at least 90% of the test
digits and the four layer tests that training relies on earned theirs.
"""

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

from autograder import oracle, sandbox
from cnnkit import casefile, checks, network
from cnnkit.notebook_loader import class_code

CALL_TIMEOUT = float(os.environ.get("CNNKIT_CALL_TIMEOUT", "20"))  # seconds per call to a layer method
TRAINING_TIMEOUT = float(os.environ.get("CNNKIT_TRAINING_TIMEOUT", "300"))  # the training call of notebook 03
NOTEBOOK_TIMEOUT = float(os.environ.get("CNNKIT_NOTEBOOK_TIMEOUT", "600"))
STARTUP_SECONDS = 30.0  # extra time for the first call of each process: imports and the class cell
LARGEST_RESULT = 64 * sandbox.MIB
MINIMUM_ACCURACY = 0.90
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


# ---- the calls ---------------------------------------------------------------------------------------

def _call(kind, case, label):
    """One call to the student's layer on a case (a dict as in cnnkit.casefile); a backward call carries the
    oracle's forward output as its cache."""
    x = case["x"]
    if "weights" in case:
        weights, stride = case["weights"], int(case["stride"])
        call = {"kind": kind, "layer": "conv", "label": label, "x": x, "k": weights.shape[1], "stride": stride}
        if kind != "views":
            call["weights"] = weights
        if kind == "backward":
            call.update(grad_output=case["grad_output"], cache_out=oracle.conv_forward(x, weights, stride))
        return call
    call = {"kind": kind, "layer": "pool", "label": label, "x": x, "k": int(case["k"])}
    if kind == "backward":
        call.update(grad_output=case["grad_output"], cache_out=oracle.maxpool_forward(x, call["k"]))
    return call


def calls_of(grade_id, hidden):
    """The calls of one graded test: its visible cases, then its hidden ones.

    :param hidden: {grade_id: [case dict, ...]}, the instructor's cases (see autograder/hidden_cases.py).
    """
    if grade_id == TRAINING_TEST:
        return [{"kind": "train", "layer": "both", "label": "training notebook 03's network"}]
    secret = hidden[grade_id]
    cases = [(case, case["label"]) for case in checks.visible_cases(grade_id)] + \
        [(case, f"hidden case {i} of {len(secret)}") for i, case in enumerate(secret, start=1)]
    kinds = {"conv_batch_of_one": ["forward", "backward"]}.get(grade_id, [grade_id.split("_")[1]])
    return [_call(kind, case, label) for case, label in cases for kind in kinds]


def load_hidden(path):
    """{grade_id: [case dict, ...]} from the instructor's hidden cases file (read here, never in the sandbox)."""
    return casefile.read(path)


def _write_calls(calls, path):
    arrays = {}
    for index, call in enumerate(calls):
        for name, value in call.items():
            if name != "label":
                arrays[f"{index}/{name}"] = np.asarray(value)
        if call["kind"] == "views":
            h, w = call["x"].shape[2:]
            stride = call.get("stride", call["k"])
            count = oracle.conv_output_size(h, call["k"], stride) * oracle.conv_output_size(w, call["k"], stride)
            arrays[f"{index}/max_items"] = np.asarray(count + 1)
    np.savez(path, **arrays)


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
            with np.load(file, allow_pickle=False) as data:
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


def harvest(calls, notebooks, notebook_timeout=NOTEBOOK_TIMEOUT, tests=None):
    """Run ``calls`` on the student's classes in the sandbox; returns one entry per call: the dict of its saved
    outputs, or a string saying why there is none ("timed out: ...", "crashed: ..." or :data:`SKIPPED`).

    :param notebooks: paths of the student's notebooks to copy into the scratch folder.
    :param tests: the graded test of each call (calls of a test next to each other; default: every call its own).
        Once a call timed out or crashed, its test has failed: the test's other calls are skipped, so that one
        endless or crashing method costs one time limit per test, not one per call, and cannot use up the
        notebook's time limit before the tests that do not call it.
    """
    tests = list(range(len(calls))) if tests is None else tests
    scratch = sandbox.scratch_folder("verdict-")
    results_dir = scratch / "results"
    results_dir.mkdir()
    results_fd = os.open(results_dir, os.O_RDONLY | os.O_DIRECTORY)
    for notebook in notebooks:
        shutil.copyfile(notebook, scratch / Path(notebook).name)
    _write_calls(calls, scratch / "calls.npz")
    log = scratch / "output.log"
    outcomes = [None] * len(calls)
    deadline = time.monotonic() + notebook_timeout
    first, failed_starts = 0, 0
    try:
        while first < len(calls):
            argv = [sys.executable, "-I", "-m", "autograder.runner.harvest", "calls.npz", str(results_dir), str(first)]
            with open(log, "ab") as output:
                process = subprocess.Popen(sandbox.command(argv, scratch), cwd=scratch, stdin=subprocess.DEVNULL,
                                           stdout=output, stderr=output, preexec_fn=sandbox.preexec())
            index, started = first, time.monotonic()
            try:
                while index < len(calls):
                    result = _read_result(results_fd, index)
                    if result is not None:
                        outcomes[index], index, started = result, index + 1, time.monotonic()
                        continue
                    allowed = TRAINING_TIMEOUT if calls[index]["kind"] == "train" else CALL_TIMEOUT
                    allowed += STARTUP_SECONDS if index == first else 0
                    now = time.monotonic()
                    if now > deadline:
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
            failed_starts = failed_starts + 1 if index == first + 1 and isinstance(outcomes[first], str) else 0
            if failed_starts == 2 and index < len(calls):  # it dies at every start: the class cell itself
                for rest in range(index, len(calls)):
                    outcomes[rest] = f"crashed: not run, the process died at every start{_tail(log)}"
                index = len(calls)
            if 0 < index < len(calls) and isinstance(outcomes[index - 1], str):  # that call's test has failed
                failed_test = tests[index - 1]
                while index < len(calls) and tests[index] == failed_test:
                    outcomes[index], index = SKIPPED, index + 1
            first = index
    finally:
        os.close(results_fd)
        shutil.rmtree(scratch, ignore_errors=True)
    return outcomes


# ---- code worth a human look -------------------------------------------------------------------------

# A class that returns what a library computes earns its points (its outputs are right) but deserves a look: the
# kit's oracle, SciPy, deep-learning frameworks, and dynamic imports that could hide them.
BORROWED = re.compile(r"\b(oracle|scipy|torch|tensorflow|jax|keras|cupy|__import__|importlib|sys\.modules)\b")


def borrowed_code(notebook, class_name):
    """The names in the code that defines the student's class (see cnnkit.notebook_loader.class_code) that point at
    a library implementation of the layer, sorted; empty when there is none or the notebook cannot be read."""
    try:
        return sorted(set(BORROWED.findall(class_code(notebook, class_name))))
    except Exception:  # unreadable or not defining the class: the verdicts already say so
        return []


# ---- judging ------------------------------------------------------------------------------------------

def _config(call):
    if call["layer"] == "pool":
        return checks.describe_pool(call["x"].shape, call["k"], call["label"])
    n_filters = call["weights"].shape[0] if "weights" in call else None
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


def _problem(actual, expected, what):
    actual = _as_value(actual)
    if isinstance(actual, _Unsaved):
        return f"{what} is not a numeric numpy array ({actual.description})"
    found = checks.find_problem(actual, expected, what, checks.RTOL, checks.ATOL)
    return None if found is None else " ".join([found[1], *found[2]])


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
        expected = oracle.conv_forward(x, call["weights"], call["stride"]) if call["layer"] == "conv" \
            else oracle.maxpool_forward(x, k)
        return _problem(outputs.get("x", "missing"), x, 'forward(x)["x"]') or \
            _problem(outputs.get("out", "missing"), expected, 'forward(x)["out"]')
    if call["kind"] == "backward":
        expected = oracle.conv_weight_grad(x, call["grad_output"], k, call["stride"]) if call["layer"] == "conv" \
            else oracle.maxpool_backward(x, call["grad_output"], k)
        return _problem(outputs.get("grads", "missing"), expected, "backward(cache, grad_output)")
    if call["kind"] == "views":
        stride = call.get("stride", k)
        h_out, w_out = oracle.conv_output_size(x.shape[2], k, stride), oracle.conv_output_size(x.shape[3], k, stride)
        if not bool(outputs.get("generator", False)):
            return "the views method is not a generator"
        if "item_type" in outputs:
            return f"the views generator yielded a wrong item: {outputs['item_type']}"
        rows, cols = outputs.get("rows", np.zeros(0)), outputs.get("cols", np.zeros(0))
        expected_rows, expected_cols = np.divmod(np.arange(h_out * w_out), w_out)
        if len(rows) != h_out * w_out:
            return f"the views generator yielded {len(rows)} windows, expected {h_out * w_out}"
        if not (np.array_equal(rows, expected_rows) and np.array_equal(cols, expected_cols)):
            return "the views generator yielded wrong (out_row, out_col) indices or a wrong order"
        for number, (p, q) in enumerate(zip(expected_rows, expected_cols)):
            i, j = p * stride, q * stride
            problem = _problem(outputs.get(f"view/{number}", "missing"), x[:, :, i:i + k, j:j + k],
                               f"the view of output ({p}, {q})")
            if problem:
                return problem
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
    if accuracy < MINIMUM_ACCURACY:
        return TestVerdict(False, f"test accuracy {accuracy:.1%}, below {MINIMUM_ACCURACY:.0%}")
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
    # A backward call carries the expected output of forward on its input (as its cache): the backward calls run in
    # a process of their own, after the others, so that no forward call can find that output and return it.
    outcomes, deadline = [None] * len(calls), time.monotonic() + notebook_timeout
    for backward in (False, True):
        part = [index for index, (_, call) in enumerate(calls) if (call["kind"] == "backward") == backward]
        if part:
            found = harvest([calls[i][1] for i in part], notebooks, max(0.0, deadline - time.monotonic()),
                            tests=[calls[i][0] for i in part])
            for index, outcome in zip(part, found):
                outcomes[index] = outcome
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
