"""Run the hidden test cases (inputs and expected outputs that students never see) on a student's class.

The graded test cells of the notebooks call :func:`run` inside their hidden block at grading time.
The cases come from the ``.npz`` file named by the environment variable ``CNNKIT_HIDDEN_CASES``
(set by the course's nbgrader_config.py), and are compared with the same code as the visible
checks, except that failure messages never show an expected value.
"""

import os
from pathlib import Path

import numpy as np

from cnnkit import checks

ENVIRONMENT_VARIABLE = "CNNKIT_HIDDEN_CASES"
REPOSITORY_CASES = Path(__file__).resolve().parent.parent / "autograder" / "hidden" / "cases.npz"


def cases_path():
    """The hidden cases file: $CNNKIT_HIDDEN_CASES, else the one in this repository's autograder/."""
    return Path(os.environ.get(ENVIRONMENT_VARIABLE) or REPOSITORY_CASES)


def load(test):
    """The hidden cases of one graded test: a list of {name: array} dicts, in order."""
    path = cases_path()
    if not path.is_file():
        raise FileNotFoundError(f"hidden test cases not found at {path}; set {ENVIRONMENT_VARIABLE}")
    cases = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            name, index, field = key.split("/")
            if name == test:
                cases.setdefault(int(index), {})[field] = data[key]
    if not cases:
        raise KeyError(f"no hidden cases for {test!r} in {path}")
    return [cases[index] for index in sorted(cases)]


def _conv_views(layer_cls, case, label):
    checks.run_conv_views_case(layer_cls, case["x"], case["weights"].shape[1], int(case["stride"]), label)


def _conv_forward(layer_cls, case, label):
    checks.run_conv_forward_case(layer_cls, case["x"], case["weights"], int(case["stride"]), case["expected_out"], label)


def _conv_backward(layer_cls, case, label):
    checks.run_conv_backward_case(layer_cls, case["x"], case["weights"], int(case["stride"]), case["grad_output"],
                                  case["expected_grad"], label)


def _conv_forward_and_backward(layer_cls, case, label):
    _conv_forward(layer_cls, case, label)
    _conv_backward(layer_cls, case, label)


def _pool_views(layer_cls, case, label):
    checks.run_pool_views_case(layer_cls, case["x"], int(case["k"]), label)


def _pool_forward(layer_cls, case, label):
    checks.run_pool_forward_case(layer_cls, case["x"], int(case["k"]), case["expected_out"], label)


def _pool_backward(layer_cls, case, label):
    checks.run_pool_backward_case(layer_cls, case["x"], int(case["k"]), case["grad_output"], case["expected_grad"],
                                  label)


RUNNERS = {
    "conv_views": _conv_views,
    "conv_forward_stride1": _conv_forward,
    "conv_forward_strided": _conv_forward,
    "conv_backward_stride1": _conv_backward,
    "conv_backward_strided": _conv_backward,
    "conv_batch_of_one": _conv_forward_and_backward,
    "pool_views": _pool_views,
    "pool_forward": _pool_forward,
    "pool_backward": _pool_backward,
    "pool_backward_ties": _pool_backward,
}


def run(test, layer_cls):
    """Run every hidden case of ``test`` (a graded cell's grade id) on ``layer_cls``; raise CheckFailed on the first
    failure, with the configuration, the first wrong index and the size of the error but no expected value."""
    cases = load(test)
    with checks.expected_values_hidden():
        for number, case in enumerate(cases, start=1):
            RUNNERS[test](layer_cls, case, f"hidden case {number} of {len(cases)}")
    print(f"{test}: {len(cases)} hidden cases passed.")
