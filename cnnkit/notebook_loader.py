"""Import classes defined in a notebook without running the whole notebook.

Used by the tests to load the reference layers from ``solutions/`` (so there is no second copy that
could drift) and by later notebooks to reuse the layers a student wrote in earlier ones.
"""

import ast
import json
import types
from pathlib import Path


class NotebookLoadError(ImportError):
    """The notebook cannot be read, or does not define the requested classes."""


def _joined(source):
    """A cell's source as one string (the .ipynb format allows a list of lines)."""
    return source if isinstance(source, str) else "".join(source)


def _python_lines(source):
    """Cell source without IPython-only lines (magics and shell escapes)."""
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def load_classes(notebook_path, *class_names):
    """Run the import statements of every code cell, then each cell that defines one of ``class_names``.

    :param notebook_path: path of an .ipynb file.
    :param class_names: names of top-level classes to return.
    :returns: dict mapping each name to its class object.
    :raises NotebookLoadError: if the notebook is unreadable, a needed cell does not compile or
        fails to run, or a class is missing.
    """
    path = Path(notebook_path)
    try:  # plain JSON: nbformat's schema validation would cost seconds and is not needed to read code cells
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code_sources = [_joined(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    except Exception as error:
        raise NotebookLoadError(f"cannot read {path.name}: {error!r}") from error
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    imports, defining_cells = [], []
    for index, cell_source in enumerate(code_sources):
        source = _python_lines(cell_source)
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            if any(name in source for name in class_names):
                raise NotebookLoadError(f"code cell {index + 1} of {path.name} has a syntax error: {error}") from error
            continue
        imports += [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        if any(isinstance(node, ast.ClassDef) and node.name in class_names for node in tree.body):
            defining_cells.append((index, source))
    exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), module.__dict__)
    for index, source in defining_cells:
        try:
            exec(compile(source, f"{path.name}, code cell {index + 1}", "exec"), module.__dict__)
        except Exception as error:
            raise NotebookLoadError(f"code cell {index + 1} of {path.name} failed: {error!r}") from error
    missing = [name for name in class_names if not isinstance(module.__dict__.get(name), type)]
    if missing:
        raise NotebookLoadError(f"{path.name} does not define {', '.join(missing)}")
    return {name: module.__dict__[name] for name in class_names}
