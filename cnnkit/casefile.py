"""Test cases stored as plain arrays: one uncompressed ``.npz`` file, keyed ``<test>/<index>/<field>``, no pickles.

A case is a dict of numpy arrays (``x``, ``weights``, ``grad_output``, ``expected_out``...) and strings
(``label``), stored as 0-d unicode arrays. The visible cases that ship with the notebooks
(``cnnkit/visible_cases.npz``), the cases the graded cells run in the grading kernel and the
instructor's hidden cases all use this format.
"""

import functools
import io

import numpy as np

from cnnkit.ast_lock import AST_LOCK


def to_bytes(cases):
    """The bytes of the ``.npz`` file holding ``cases``, a dict {test: [case dict, ...]}."""
    arrays = {f"{test}/{index}/{name}": np.asarray(value)
              for test, test_cases in cases.items() for index, case in enumerate(test_cases)
              for name, value in case.items()}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def read(path, tests=None):
    """{test: [case dict, ...]} from a file written with :func:`to_bytes`, of every test or only of those in
    ``tests``; 0-d string arrays become str."""
    cases = {}
    with AST_LOCK, np.load(path, allow_pickle=False) as data:
        for key in data.files:
            test, index, name = key.split("/", 2)
            if tests is not None and test not in tests:
                continue
            value = data[key]
            cases.setdefault(test, {}).setdefault(int(index), {})[name] = str(value) if value.dtype.kind == "U" else value
    return {test: [by_index[i] for i in sorted(by_index)] for test, by_index in cases.items()}


@functools.lru_cache(maxsize=None)
def cases_of(path, test):
    """The cases of ``test`` in the file at ``path``, read once per test and process (the checks run the same cases
    many times; a kernel that runs one notebook's checks reads that notebook's cases only)."""
    return read(path, {test})[test]
