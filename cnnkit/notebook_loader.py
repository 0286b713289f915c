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


DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _is_constant(node):
    """Whether ``node`` is an assignment of a literal to plain names, e.g. ``EPS = 1e-8``."""
    if not isinstance(node, ast.Assign) or not all(isinstance(target, ast.Name) for target in node.targets):
        return False
    try:
        ast.literal_eval(node.value)
    except ValueError:
        return False
    return True


def _bound_names(node):
    """The names an import statement binds."""
    return {(alias.asname or alias.name).split(".")[0] for alias in node.names}


def _defined_names(node):
    return {node.name} if isinstance(node, DEFINITIONS) else {target.id for target in node.targets}


def _needed(definitions, class_names):
    """The definitions that the classes need (themselves, and what they use, transitively), and the names they use."""
    used, needed, grown = set(class_names), [], True
    while grown:
        grown = False
        for item in definitions:
            if item not in needed and _defined_names(item[1]) & used:
                needed.append(item)
                used |= {node.id for node in ast.walk(item[1]) if isinstance(node, ast.Name)}
                grown = True
    return [item for item in definitions if item in needed], used


def _statements(notebook_path, class_names):
    """The (cell index, statement) pairs that define ``class_names``, in the order load_classes runs them."""
    path = Path(notebook_path)
    try:  # plain JSON: nbformat's schema validation would cost seconds and is not needed to read code cells
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code_sources = [_joined(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    except Exception as error:
        raise NotebookLoadError(f"cannot read {path.name}: {error!r}") from error
    imports, definitions = [], []  # (cell index, statement)
    for index, cell_source in enumerate(code_sources):
        source = _python_lines(cell_source)
        try:
            tree = ast.parse(source)
        except SyntaxError as error:
            if any(name in source for name in class_names):
                raise NotebookLoadError(f"code cell {index + 1} of {path.name} has a syntax error: {error}") from error
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imports.append((index, node))
            elif isinstance(node, DEFINITIONS) or _is_constant(node):
                definitions.append((index, node))
    definitions, used = _needed(definitions, class_names)
    needed = [(index, node) for index, node in imports
              if isinstance(node, ast.Import) and _bound_names(node) & used
              or isinstance(node, ast.ImportFrom) and (_bound_names(node) & used or "*" in _bound_names(node))]
    return sorted(needed + definitions, key=lambda item: (item[0], item[1].lineno))


def load_classes(notebook_path, *class_names):
    """Define ``class_names`` as the notebook does, without running the whole notebook.

    In notebook order, the top-level definitions (functions, classes, constant assignments) of every code
    cell that the classes need, directly or through each other, are run, after the import statements that
    bind a name they use (an import that fails is skipped: a name it should have bound fails when used).
    The rest (plots, checks, experiments) is not run; a later definition replaces an earlier one, as when
    the notebook runs top to bottom.

    :param notebook_path: path of an .ipynb file.
    :param class_names: names of top-level classes to return.
    :returns: dict mapping each name to its class object.
    :raises NotebookLoadError: if the notebook is unreadable, a cell defining one of the classes does not
        compile, one of their definitions fails, or a class is missing.
    """
    path = Path(notebook_path)
    module = types.ModuleType(path.stem)
    module.__file__ = str(path)
    for index, node in _statements(path, class_names):
        try:
            code = compile(ast.Module(body=[node], type_ignores=[]), f"{path.name}, code cell {index + 1}", "exec")
            exec(code, module.__dict__)
        except Exception as error:
            if isinstance(node, ast.ClassDef) and node.name in class_names:
                raise NotebookLoadError(f"code cell {index + 1} of {path.name} failed: {error!r}") from error
    missing = [name for name in class_names if not isinstance(module.__dict__.get(name), type)]
    if missing:
        raise NotebookLoadError(f"{path.name} does not define {', '.join(missing)}")
    return {name: module.__dict__[name] for name in class_names}


def class_code(notebook_path, *class_names):
    """The source that :func:`load_classes` runs to define ``class_names`` (imports and definitions), as one string."""
    return "\n".join(ast.unparse(node) for _, node in _statements(Path(notebook_path), class_names))
