"""Typical mistakes, recognised by their output: each case a check runs carries, as data, what every typical wrong
layer outputs on it (its *signature*) and the sentence that names the mistake, both written when the course is
released from the instructor's registry of mistakes (``autograder/mistakes.py``).

A student's wrong output that is close to a signature gets that mistake's cause, as one sentence. Keys in a case
dict: ``mistake/<name>`` (the signature) and ``cause/<name>`` (the sentence), in the registry's order; a case holds
only the signatures that differ from the correct output.
"""

import numpy as np

RTOL, ATOL = 1e-7, 1e-9  # a student's output "is" a mistake's output when this close to it


def diagnose(kind, actual, case):
    """The likely cause of a wrong ``actual`` output as one sentence, or None if no known mistake matches.

    :param kind: "conv_forward", "conv_backward", "pool_forward" or "pool_backward": a mistake's name starts with
        the kind of output it is about.
    :param actual: the student's output (anything).
    :param case: the case dict, with its ``mistake/<name>`` signatures and ``cause/<name>`` sentences; the first
        signature that matches wins.
    """
    if not isinstance(actual, np.ndarray) or not np.issubdtype(actual.dtype, np.number):
        return None
    for field, wrong in case.items():
        name = field.removeprefix("mistake/")
        if (field.startswith(f"mistake/{kind}_") and wrong.shape == actual.shape
                and np.allclose(actual, wrong, rtol=RTOL, atol=ATOL)):
            return str(case[f"cause/{name}"])
    return None
