"""The hidden blocks of the notebooks' graded test cells: more cases, run in the grading kernel.

At grading time, each graded test cell calls :func:`run` in its hidden block (stripped from the
student's copy). It runs the cases of ``kernel_cases.npz`` beside this file (drawn from a public seed
by ``autograder/cases.py``, with their expected outputs) through the same code as the visible checks,
except that failure messages never show an expected value. That in-kernel verdict is what nbgrader
records and what the feedback shows; the grade itself comes from :mod:`autograder.verdict`, which runs
the instructor's secret cases outside the student's reach and wins where the two disagree.
"""

from pathlib import Path

from cnnkit import casefile, checks

KERNEL_CASES = Path(__file__).with_name("kernel_cases.npz")


def load(test):
    """The cases of one graded test run in the kernel: a list of case dicts, in order."""
    return casefile.cases_of(KERNEL_CASES, test)


def run(test, layer_cls):
    """Run every kernel case of ``test`` (a graded cell's grade id) on ``layer_cls``; raise CheckFailed on the first
    failure, with the configuration, the first wrong index and the size of the error but no expected value."""
    cases = load(test)
    with checks.expected_values_hidden(), checks.notes_once(len(cases)):
        for number, case in enumerate(cases, start=1):
            checks.run_case(test, layer_cls, case, f"hidden case {number} of {len(cases)}")
    print(f"{test}: {len(cases)} hidden cases passed.")
