"""Generate the hidden test cases from a fixed seed: ``python -m autograder.hidden_cases [--seed N]``.

The cases are drawn by :mod:`cnnkit.case_generator`; everything is stored as plain arrays in one
``.npz`` file (no pickles), keyed ``<test>/<case>/<name>``. Only the grader reads the file, outside
the sandbox that runs student code (see :mod:`autograder.verdict`): the student's kernel never sees it.

Instructors running a real course should generate their own file with a private seed and keep it
out of any public copy of the course.
"""

import argparse
import io
from pathlib import Path

import numpy as np

from cnnkit.case_generator import generate

DEFAULT_SEED = 20261127
HIDDEN_CASES = Path(__file__).parent / "hidden" / "cases.npz"


def to_npz_bytes(cases):
    """The cases as the bytes of an uncompressed .npz, keyed ``<test>/<index>/<name>``."""
    arrays = {f"{test}/{index}/{name}": value
              for test, test_cases in cases.items() for index, case in enumerate(test_cases) for name, value in case.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--output", type=Path, default=HIDDEN_CASES)
    args = parser.parse_args(argv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(to_npz_bytes(generate(args.seed)))
    print(f"Hidden cases written to {args.output}")


if __name__ == "__main__":
    main()
