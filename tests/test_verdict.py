"""The kit's verdict (autograder/verdict.py with autograder/runner/harvest.py in the sandbox), without nbgrader: it passes
the reference, fails what returns wrong things however they pretend, and keeps the points of the calls that a
crash or an endless loop elsewhere did not touch."""

import json
import os
import time

import numpy as np
import pytest

from autograder import mistakes, verdict
from autograder.hidden_cases import HIDDEN_CASES
from autograder.release import SOLUTIONS, graded_cells
from autograder.runner.harvest import run_call
from autograder.sample_class import CONV, LAYERS, POOL, STACKING, filled_in, solution_cell
from cnnkit import network
from mutations import with_mistakes
from reference import Convolution2dLayer, MaxPooling2dLayer
import nbformat

CONV_TESTS, POOL_TESTS, STACKING_TESTS = ([grade_id for grade_id, _ in graded_cells()[notebook]]
                                          for notebook in (CONV, POOL, STACKING))


@pytest.fixture(scope="module")
def hidden():
    return verdict.load_hidden(HIDDEN_CASES)


def student_notebook(folder, notebook, replacements=None, prefix=""):
    """The reference ``notebook`` with its solution regions replaced ({region index: body}), as the student's file;
    ``prefix`` is put before the class (code run when the class cell is loaded)."""
    reference = nbformat.read(SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    solution_cell(reference).source = prefix + filled_in(solution_cell(reference).source, replacements)
    path = folder / f"{notebook}.ipynb"
    path.write_text(json.dumps(reference))
    return path


def passed(judged):
    return {grade_id for grade_id, test in judged.tests.items() if test.passed}


def test_the_reference_passes_every_test_and_trains_to_the_accuracy(hidden):
    conv = verdict.judge_notebook(CONV_TESTS, hidden, [SOLUTIONS / f"{CONV}.ipynb"])
    pool = verdict.judge_notebook(POOL_TESTS, hidden, [SOLUTIONS / f"{POOL}.ipynb"])
    assert passed(conv) == set(CONV_TESTS) and passed(pool) == set(POOL_TESTS)
    stacking = verdict.judge_notebook(STACKING_TESTS, hidden, [SOLUTIONS / f"{STACKING}.ipynb"])
    assert passed(stacking) == set(STACKING_TESTS), stacking.tests
    training = verdict.judge_notebook([verdict.TRAINING_TEST], hidden,
                                      [SOLUTIONS / f"{CONV}.ipynb", SOLUTIONS / f"{POOL}.ipynb"],
                                      layer_tests={**conv.tests, **pool.tests})
    assert passed(training) == {verdict.TRAINING_TEST}


PRETENDERS = {
    "an object equal to everything": """
class Anything:
    shape = property(lambda self: (0,))
    def __eq__(self, other): return True
    def __array__(self, *args, **kwargs): return np.zeros(1)
cache["out"] = Anything()
""",
    "a list of the right values": 'cache["out"] = (view * self.weights).sum(axis=(2, 3)).tolist()\n',
    "an ndarray subclass that says it is close": """
class Close(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
cache["out"] = np.zeros_like(cache["out"]).view(Close)
""",
    "an object array": 'cache["out"] = np.zeros(cache["out"].shape, dtype=object)\n',
}


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=[mistake.name for mistake in mistakes.MISTAKES])
def test_each_registered_mistake_fails_exactly_its_tests_and_the_reason_names_its_cause(hidden, mistake):
    """The verdict's calls (visible and hidden cases) run in this process on the registry's code of the mistake."""
    classes = with_mistakes(mistake.name)
    reasons = {}
    for grade_id, _ in graded_cells()[LAYERS[mistake.layer][0]]:
        for call in verdict.calls_of(grade_id, hidden):
            call = {"max_items": 10_000, **call}  # as the calls file gives it (for the views)
            reason = verdict.judge(call, run_call(call, classes))
            if reason:
                reasons.setdefault(grade_id, reason)
    assert set(reasons) == mistake.fails
    for grade_id, reason in reasons.items():
        assert f"Likely cause: {mistake.cause}" in reason, grade_id


@pytest.mark.parametrize("pretence", sorted(PRETENDERS))
def test_outputs_that_only_pretend_to_be_arrays_earn_nothing(tmp_path, hidden, pretence):
    notebook = student_notebook(tmp_path, CONV, {1: PRETENDERS[pretence]})
    judged = verdict.judge_notebook(["conv_forward_stride1", "conv_views"], hidden, [notebook])
    assert passed(judged) == {"conv_views"}
    assert "forward" in judged.tests["conv_forward_stride1"].reason


def test_an_endless_backward_times_out_per_call_and_forward_keeps_its_points(tmp_path, hidden, monkeypatch):
    monkeypatch.setattr(verdict, "CALL_TIMEOUT", 2.0)
    monkeypatch.setattr(verdict, "STARTUP_SECONDS", 10.0)
    notebook = student_notebook(tmp_path, CONV, {2: "while True:\n    pass\n"})
    judged = verdict.judge_notebook(["conv_forward_stride1", "conv_backward_stride1"], hidden, [notebook],
                                    notebook_timeout=60)
    assert passed(judged) == {"conv_forward_stride1"}
    assert judged.timed_out and "timed out" in judged.tests["conv_backward_stride1"].reason


def test_a_crash_in_one_method_costs_only_the_calls_of_that_method(tmp_path, hidden):
    notebook = student_notebook(tmp_path, POOL, {2: "import os\nos._exit(3)\n"})
    judged = verdict.judge_notebook(POOL_TESTS, hidden, [notebook])
    assert passed(judged) == {"pool_views", "pool_forward"}
    assert judged.crashed and "crashed" in judged.tests["pool_backward"].reason


def test_a_statement_that_ends_the_process_is_recorded_and_skipped_and_the_class_keeps_its_points(tmp_path, hidden):
    notebook = student_notebook(tmp_path, POOL, prefix="import os\nos._exit(1)\n")
    judged = verdict.judge_notebook(POOL_TESTS, hidden, [notebook])
    assert passed(judged) == set(POOL_TESTS)
    assert len(judged.crashed) == 1 and "code cell" in judged.crashed[0] and "ended the process" in judged.crashed[0]


def test_a_class_that_kills_its_process_when_defined_is_skipped_once_not_retried_forever(tmp_path, hidden):
    """The class statement itself ends the process: it is skipped in the next process, which then has no class."""
    notebook = student_notebook(tmp_path, POOL, prefix="def boom(cls):\n    import os\n    os._exit(1)\n\n\n@boom\n")
    started = time.monotonic()
    judged = verdict.judge_notebook(POOL_TESTS, hidden, [notebook])
    assert time.monotonic() - started < 30
    assert passed(judged) == set()
    assert len(judged.crashed) == 1
    assert all("could not be loaded" in judged.tests[test].reason for test in POOL_TESTS)


def test_a_process_that_dies_at_every_start_is_not_restarted_forever(tmp_path, hidden):
    """Every statement that ends the process is skipped once; then the calls that still crash are not retried."""
    notebook = student_notebook(tmp_path, POOL, prefix="".join(f"import os; os._exit({n})\n" for n in range(1, 9)))
    started = time.monotonic()
    judged = verdict.judge_notebook(POOL_TESTS, hidden, [notebook])
    assert time.monotonic() - started < 60
    assert passed(judged) == set()
    assert all("crashed" in judged.tests[test].reason for test in POOL_TESTS)


def test_the_notebook_time_limit_stops_everything_left(tmp_path, hidden):
    notebook = student_notebook(tmp_path, CONV, {0: "import time\ntime.sleep(5)\nout_row, out_col = i // s, j // s\n"
                                                    "view = x[:, :, i:i + k, j:j + k]\n"})
    judged = verdict.judge_notebook(CONV_TESTS, hidden, [notebook], notebook_timeout=8)
    assert passed(judged) == set()
    assert any("notebook's time limit" in description for description in judged.timed_out)


def test_results_are_read_only_from_regular_files_in_the_results_folder(tmp_path):
    secret = tmp_path / "secret.npz"
    np.savez(secret, out=np.ones(3))
    results = tmp_path / "results"
    results.mkdir()
    os.symlink(secret, results / "0.npz")
    (results / "1.npz").write_bytes(b"not an npz")
    folder = os.open(results, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert verdict._read_result(folder, 0) == {"error": "its result was not a regular file"}
        assert "could not be read" in verdict._read_result(folder, 1)["error"]
        assert verdict._read_result(folder, 2) is None
    finally:
        os.close(folder)


def test_training_needs_the_layer_tests_it_relies_on(hidden):
    failing = {name: verdict.TestVerdict(name != "pool_backward") for name in verdict.TRAINING_NEEDS}
    judged = verdict.judge_notebook([verdict.TRAINING_TEST], hidden, [], layer_tests=failing)
    assert not judged.tests[verdict.TRAINING_TEST].passed
    assert "pool_backward" in judged.tests[verdict.TRAINING_TEST].reason


def test_a_class_that_returns_what_a_library_computes_is_flagged_for_a_human_look(tmp_path):
    """Its outputs are right, so its points stand, but review.csv lists it (see grade._judge)."""
    borrowing = student_notebook(tmp_path, POOL, {1: 'cache["out"] = __import__("cnnkit.oracle").oracle.maxpool_forward'
                                                     '(x, k)\n'}, prefix="from scipy import signal\n")
    assert verdict.borrowed_code(borrowing) == ["__import__", "oracle", "scipy"]  # the student's code, all of it
    (tmp_path / "honest").mkdir()
    assert verdict.borrowed_code(student_notebook(tmp_path / "honest", POOL)) == []


@pytest.mark.parametrize("seed", range(20))
def test_the_verdicts_shorter_training_reaches_the_threshold_with_correct_layers(seed):
    """The verdict trains for GRADING_EPOCHS, not the notebook's 15: with correct layers that is enough, whatever
    the seed of the split, the initial weights and the order of the mini-batches (the verdict uses seed 0)."""
    model, x_test, y_test = network.train_digit_cnn(Convolution2dLayer, MaxPooling2dLayer, seed=seed,
                                                    epochs=network.GRADING_EPOCHS)
    accuracy = float(np.mean(model.predict(x_test) == y_test))
    assert accuracy >= network.MINIMUM_ACCURACY + 0.03, f"seed {seed}: {accuracy:.1%} after {network.GRADING_EPOCHS} epochs"
