"""One lock for whatever builds Python syntax trees in a grading process: ``ast.parse`` (the notebook loader) and
``np.load`` (it reads each ``.npy`` header with ``ast.literal_eval``).

CPython 3.11 keeps the recursion depth of its AST converter in interpreter-wide state, so two threads building
trees at once can fail with "SystemError: AST constructor recursion depth mismatch" (CPython issue 106905). The
grader computes a student's verdicts in a thread while nbgrader runs the notebooks in another.
"""

import threading

AST_LOCK = threading.Lock()
