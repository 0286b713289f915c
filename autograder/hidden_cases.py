"""Generate the hidden test cases from a fixed seed: ``python -m autograder.hidden_cases [--seed N]``.

The cases are drawn by :mod:`autograder.cases`; everything is stored as plain arrays in one
``.npz`` file (no pickles, see :mod:`cnnkit.casefile`). Only the grader reads the file, outside
the sandbox that runs student code (see :mod:`autograder.verdict`): the student's kernel never sees it.

Instructors running a real course should generate their own file with a private seed and keep it
out of any public copy of the course.
"""

import argparse
import os
from pathlib import Path

from cnnkit import casefile

DEFAULT_SEED = 20261127
HIDDEN_CASES = Path(__file__).parent / "hidden" / "cases.npz"


def instructor_file(course_root=None):
    """The hidden cases file grading reads: $CNNKIT_HIDDEN_CASES when set, else ``<course_root>/hidden/cases.npz``
    (by default the kit's own course folder's, :data:`HIDDEN_CASES`)."""
    chosen = os.environ.get("CNNKIT_HIDDEN_CASES")
    return Path(chosen) if chosen else Path(course_root) / "hidden" / "cases.npz" if course_root else HIDDEN_CASES


class StaleHiddenCases(ValueError):
    """The hidden cases file is missing, or does not hold cases for exactly the graded tests."""


def check_covers(hidden, grade_ids, path):
    """Raise :class:`StaleHiddenCases` unless ``hidden`` ({grade_id: [case dict, ...]}, read from ``path``) holds
    cases for every one of ``grade_ids`` and for no other test."""
    missing, unknown = sorted(set(grade_ids) - set(hidden)), sorted(set(hidden) - set(grade_ids))
    problems = [f"{what} {tests}" for what, tests in (("no cases for the graded tests", missing),
                                                      ("cases for tests that no longer exist", unknown)) if tests]
    if problems:
        raise StaleHiddenCases(f"{path} is out of date ({'; '.join(problems)}): run `make hidden` "
                               "(or `make hidden HIDDEN_SEED=<your secret number>`) to regenerate it")


def read_checked(path, grade_ids):
    """{grade_id: [case dict, ...]} from the hidden cases file at ``path``, checked with :func:`check_covers`."""
    if not Path(path).is_file():
        raise StaleHiddenCases(f"{path} does not exist: run `make hidden` (or `make hidden HIDDEN_SEED=<your secret "
                               "number>`) to generate it")
    hidden = casefile.read(path)
    check_covers(hidden, grade_ids, path)
    return hidden


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=HIDDEN_CASES)
    args = parser.parse_args(argv)
    # Imported here: drawing the cases loads SciPy (the oracle), which every nbgrader process that only reads this
    # module's paths (the course's nbgrader_config.py) would otherwise load for nothing, about 1.5 s each.
    from autograder.cases import generate

    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(casefile.to_bytes(generate(args.seed)))
    print(f"Hidden cases written to {args.output}")


if __name__ == "__main__":
    main()
