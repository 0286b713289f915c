"""The hidden blocks of the notebooks' graded test cells: more cases, run in the student's kernel.

At grading time, each graded test cell calls :func:`run` in its hidden block (stripped from the
student's copy). It runs the cases of the public seed :data:`cnnkit.case_generator.KERNEL_SEED`
with the same code as the visible checks, except that failure messages never show an expected
value. That in-kernel verdict is what nbgrader records and what the feedback shows; the grade
itself comes from :mod:`autograder.verdict`, which runs the instructor's secret cases outside the
student's reach and wins where the two disagree.
"""

import functools

from cnnkit import case_generator, checks


@functools.lru_cache(maxsize=1)
def _kernel_cases():
    return case_generator.generate(case_generator.KERNEL_SEED)


def load(test):
    """The cases of one graded test run in the kernel: a list of {name: array} dicts, in order."""
    return _kernel_cases()[test]


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
    """Run every kernel case of ``test`` (a graded cell's grade id) on ``layer_cls``; raise CheckFailed on the first
    failure, with the configuration, the first wrong index and the size of the error but no expected value."""
    cases = load(test)
    with checks.expected_values_hidden():
        for number, case in enumerate(cases, start=1):
            RUNNERS[test](layer_cls, case, f"hidden case {number} of {len(cases)}")
    print(f"{test}: {len(cases)} hidden cases passed.")
