"""Honest submissions written in the styles students use: the reference classes of notebooks 01 and 02, with the
Python a student puts around them (lambdas, module-level generators, helpers and base classes in other cells, star
imports, aliases, copied cells, cells run out of order...). Each style makes the class depend on what it adds, so
that a grader which does not run the student's code as the student ran it loses points.

A style is a function ``style(notebook)`` that changes a JSON notebook (dict) in place; :func:`apply` runs several.
"""

import copy
import json
from pathlib import Path

import nbformat

from autograder.release import SOLUTIONS
from autograder.sample_class import CLASS_NAMES, CONV, POOL, filled_in


def class_cell(notebook):
    """The first solution cell of a JSON notebook."""
    return next(cell for cell in notebook["cells"] if cell["metadata"].get("nbgrader", {}).get("solution"))


def _source(cell):
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _use_in_init(notebook, statement):
    """Put ``statement`` first in the class's ``__init__`` (so every test needs what it uses)."""
    cell = class_cell(notebook)
    lines = _source(cell).split("\n")
    start = next(i for i, line in enumerate(lines) if line.lstrip().startswith("def __init__"))
    end = next(i for i in range(start, len(lines)) if lines[i].rstrip().endswith(":"))
    lines.insert(end + 1, f"        {statement}")
    cell["source"] = "\n".join(lines)


def _prepend(notebook, code):
    cell = class_cell(notebook)
    cell["source"] = code + _source(cell)


def _added_cell(notebook, code, offset):
    """A cell the student added, ``offset`` cells after the class cell (0: just above it, 1: just below)."""
    cell = nbformat.v4.new_code_cell(code)
    del cell["id"]
    cell = json.loads(json.dumps(cell))
    cell["id"] = f"student-{len(notebook['cells'])}"
    notebook["cells"].insert(notebook["cells"].index(class_cell(notebook)) + offset, cell)


def lambda_helper(notebook):
    _prepend(notebook, "window_sums = lambda windows, axes=(2, 3): np.sum(windows, axis=axes)\n\n\n")
    _use_in_init(notebook, "self._ones = window_sums(np.ones((1, 1, 2, 2)))")


def computed_constants(notebook):
    _prepend(notebook, "EPS = 10.0 ** -8\nAXES = tuple(range(2, 4))\nSHAPE = np.zeros((2, 2)).shape\n\n\n")
    _use_in_init(notebook, "self._axes, self._eps, self._shape = AXES, EPS, SHAPE")


def module_rng(notebook):
    _prepend(notebook, "rng = np.random.default_rng(0)\n\n\n")
    _use_in_init(notebook, "self._noise = rng.normal(size=2)")


def helper_in_earlier_cell(notebook):
    _added_cell(notebook, "def window_max(windows):\n    return windows.max(axis=(2, 3))\n", 0)
    _use_in_init(notebook, "self._probe = window_max(np.ones((1, 1, 2, 2)))")


def helper_in_later_cell(notebook):
    _added_cell(notebook, "def describe(layer):\n    return f'{type(layer).__name__} k={layer.filter_size}'\n", 1)
    _use_in_init(notebook, "self._describe = describe")


def helper_class(notebook):
    _added_cell(notebook, "class Shapes:\n    @staticmethod\n    def output_size(n, k, s):\n"
                          "        return (n - k) // s + 1\n", 0)
    _use_in_init(notebook, "self._size = Shapes.output_size(5, 3, 1)")


def base_class_in_other_cell(notebook):
    _added_cell(notebook, "class Layer:\n    def __repr__(self):\n        return type(self).__name__\n", 0)
    cell = class_cell(notebook)
    cell["source"] = _source(cell).replace("(object):", "(Layer):", 1)


def star_import(notebook):
    _prepend(notebook, "from numpy import *\n\n\n")
    _use_in_init(notebook, "self._zeros = zeros(3)")


def numpy_alias(notebook):
    cell = class_cell(notebook)
    cell["source"] = "import numpy\nimport numpy as xp\n\n\n" + _source(cell).replace("np.", "xp.")


def copied_class_cell(notebook):
    """The class cell copied in JupyterLab (same id and metadata), so the class is defined twice."""
    cell = class_cell(notebook)
    notebook["cells"].insert(notebook["cells"].index(cell) + 1, copy.deepcopy(cell))


def out_of_order(notebook):
    """Cells run out of order (execution counts), a helper defined below its first use."""
    for number, cell in enumerate(reversed([c for c in notebook["cells"] if c["cell_type"] == "code"]), start=1):
        cell["execution_count"] = number
    _added_cell(notebook, "def halve(value):\n    return value / 2\n", 1)
    _use_in_init(notebook, "self._half = halve(1.0)")


def functools_partial(notebook):
    _prepend(notebook, "from functools import partial\n\nwindow_sums = partial(np.sum, axis=(2, 3))\n\n\n")
    _use_in_init(notebook, "self._ones = window_sums(np.ones((1, 1, 2, 2)))")


def class_decorator(notebook):
    _added_cell(notebook, "REGISTRY = []\n\n\ndef registered(cls):\n    REGISTRY.append(cls.__name__)\n"
                          "    return cls\n", 0)
    cell = class_cell(notebook)
    cell["source"] = _source(cell).replace("class ", "@registered\nclass ", 1)
    _use_in_init(notebook, "self._registry = list(REGISTRY)")


def conditional_definitions(notebook):
    _added_cell(notebook, "if __name__ == '__main__':\n    def scale():\n        return 1.0\nelse:\n"
                          "    raise RuntimeError('not run as a notebook')\n", 0)
    _use_in_init(notebook, "self._scale = scale()")


def import_in_later_cell(notebook):
    _added_cell(notebook, "import math\nimport itertools as it\n", 1)
    _use_in_init(notebook, "self._root, self._pairs = math.sqrt(4.0), list(it.product([0], [1]))")


def magics_and_experiments(notebook):
    """A magic in the class cell, then cells that print, plot (with the grading kernel's own backend) and fail: none
    of it matters to the class."""
    _prepend(notebook, "%precision 4\n")
    name = CLASS_NAMES[CONV] if "Convolution" in _source(class_cell(notebook)) else CLASS_NAMES[POOL]
    _added_cell(notebook, f"layer = {name}(filter_size=2)\nprint(layer.forward(np.ones((1, 1, 4, 4)))['out'].shape)\n"
                          "import matplotlib.pyplot as plt\nplt.plot([0, 1], [1, 0])\nplt.show()\n", 1)
    _added_cell(notebook, "undefined_name_from_an_old_session + 1\n", 2)
    _added_cell(notebook, "import sys\nprint('debug', file=sys.stderr)\nsys.exit(0)\n", 3)


def dataclass_config(notebook):
    _added_cell(notebook, "import dataclasses\n\n\n@dataclasses.dataclass(frozen=True)\nclass Config:\n"
                          "    seed: int = 0\n    scale: float = 1.0\n\n\nCONFIG = Config(seed=1)\n", 0)
    _use_in_init(notebook, "self._config = dataclasses.replace(CONFIG, scale=2.0)")


def global_state_changed_later(notebook):
    """A setting rebound in a later cell: the class reads it at call time, as in the kernel."""
    _prepend(notebook, "VERBOSE = True\n\n\n")
    _added_cell(notebook, "VERBOSE = False\n", 1)
    _use_in_init(notebook, "assert VERBOSE is False, 'the later cell must have run'")


STYLES = {style.__name__: style for style in [
    lambda_helper, computed_constants, module_rng, helper_in_earlier_cell, helper_in_later_cell, helper_class,
    base_class_in_other_cell, star_import, numpy_alias, copied_class_cell, out_of_order, functools_partial,
    class_decorator, conditional_definitions, import_in_later_cell, magics_and_experiments, dataclass_config,
    global_state_changed_later]}


def apply(notebook, styles):
    """A copy of the JSON ``notebook`` with the named styles applied, in order."""
    notebook = copy.deepcopy(notebook)
    for style in styles:
        STYLES[style](notebook)
    return notebook


def reference_notebook(release_dir, name, class_source=None):
    """The released notebook ``name`` (JSON dict) with every class cell filled in with the reference, and the first
    one with ``class_source`` when given."""
    notebook = json.loads((Path(release_dir) / f"{name}.ipynb").read_text())
    reference = {cell.metadata["nbgrader"]["grade_id"]: cell.source
                 for cell in nbformat.read(SOLUTIONS / f"{name}.ipynb", as_version=4).cells}
    for cell in notebook["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("solution"):
            cell["source"] = filled_in(reference[cell["metadata"]["nbgrader"]["grade_id"]])
    if class_source is not None:
        class_cell(notebook)["source"] = class_source
    return notebook
