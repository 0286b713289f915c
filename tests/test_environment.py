"""The pinned environment keeps grading's many short-lived processes cheap to start (see requirements.txt)."""

import subprocess
import sys


def test_importing_nbgrader_builds_no_uri_parser():
    """Every nbgrader run, grading worker, page worker and Jupyter server imports nbformat, hence jsonschema. From
    jsonschema 4.24 its format-nongpl extra brings rfc3987-syntax, which builds a Lark parser on import (2 s)."""
    code = ("import sys, nbformat, nbgrader.apps, jupyter_events\n"
            "print(sorted(name for name in ('rfc3987_syntax', 'lark') if name in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]", "pin jsonschema below 4.24 in requirements.txt (see the comment there)"
