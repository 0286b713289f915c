"""Every time limit of grading (and the memory limit of rendering), defined once: its default in seconds and the environment variable that overrides it.

The README's table of protections and the hand-out's ``jupyter-config/nbgrader_config.py`` quote these defaults;
``tests/test_one_source.py`` fails when they drift. The cell limit is the student package's, since ``make check``
in the hand-out gives each cell the same time as grading.
"""

import os

from cnnkit.notebook_loader import CELL_TIMEOUT

DEFAULTS = {  # environment variable -> seconds
    "CNNKIT_CELL_TIMEOUT": CELL_TIMEOUT,  # per code cell, in nbgrader's run and while the verdict defines the classes
    "CNNKIT_NOTEBOOK_TIMEOUT": 600,  # per notebook: the kernel is killed, the verdict's calls stop
    "CNNKIT_CALL_TIMEOUT": 20,  # per call of a layer method in the verdict
    "CNNKIT_TRAINING_TIMEOUT": 300,  # for the verdict's training of notebook 03's network
    "CNNKIT_FEEDBACK_TIMEOUT": 60,  # per student, to render the feedback pages
    "CNNKIT_VIEW_TIMEOUT": 20,  # per formgrader submission view (the Jupyter server waits for it)
}
PAGE_MEMORY = 2048 * 2**20  # bytes of address space for a process that renders pages from a submission


def seconds(variable):
    """The limit ``variable`` names (a key of :data:`DEFAULTS`): the environment's value if set, else the default."""
    return float(os.environ.get(variable, DEFAULTS[variable]))
