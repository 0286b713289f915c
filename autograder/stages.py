"""Where grading time goes: seconds per stage, summed in this process, for the benchmark's breakdown.

The stages, in the order a student goes through them (some overlap: the verdicts are computed while nbgrader runs
the notebooks): intake, kernel starts, notebook execution, verdicts (harvest and judging), training (the verdict's
training run), gradebook, feedback; the class's reports come once at the end.
"""

import collections
import contextlib
import threading
import time

STAGES = ["intake", "kernel starts", "notebook execution", "verdicts", "training", "gradebook", "feedback", "reports"]

_seconds = collections.Counter()
_lock = threading.Lock()


def add(stage, seconds):
    """Count ``seconds`` for ``stage``."""
    with _lock:
        _seconds[stage] += seconds


@contextlib.contextmanager
def timed(stage, besides=None):
    """Count the time the block takes for ``stage``, less what it counted for the stage ``besides`` (one nested in
    it, e.g. the kernel starts within the notebooks' run)."""
    nested_before = snapshot().get(besides, 0.0)
    started = time.perf_counter()
    try:
        yield
    finally:
        nested = snapshot().get(besides, 0.0) - nested_before
        add(stage, time.perf_counter() - started - nested)


def snapshot():
    """{stage: seconds} counted so far in this process."""
    with _lock:
        return dict(_seconds)


def since(before):
    """{stage: seconds} counted since ``before`` (a :func:`snapshot`)."""
    now = snapshot()
    return {stage: now[stage] - before.get(stage, 0.0) for stage in now if now[stage] > before.get(stage, 0.0)}
