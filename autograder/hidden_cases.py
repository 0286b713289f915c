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

from autograder.cases import generate
from cnnkit import casefile

DEFAULT_SEED = 20261127
HIDDEN_CASES = Path(__file__).parent / "hidden" / "cases.npz"


def instructor_file(course_root=None):
    """The hidden cases file grading reads: $CNNKIT_HIDDEN_CASES when set, else ``<course_root>/hidden/cases.npz``
    (by default the kit's own course folder's, :data:`HIDDEN_CASES`)."""
    chosen = os.environ.get("CNNKIT_HIDDEN_CASES")
    return Path(chosen) if chosen else Path(course_root) / "hidden" / "cases.npz" if course_root else HIDDEN_CASES


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=HIDDEN_CASES)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(casefile.to_bytes(generate(args.seed)))
    print(f"Hidden cases written to {args.output}")


if __name__ == "__main__":
    main()
