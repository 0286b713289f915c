"""Helpers shared by the grading tests (command line, formgrader, lab and hostile submissions)."""

import socket

import numpy as np

from autograder.hidden_cases import HIDDEN_CASES


def hidden_numbers(path=HIDDEN_CASES):
    """Every value of the hidden cases as the messages would print it (6 significant digits)."""
    with np.load(path) as data:
        values = np.concatenate([data[key].ravel() for key in data.files])
    return {f"{value:.6g}" for value in values if abs(value) > 1e-3 and len(f"{value:.6g}") >= 6}


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
