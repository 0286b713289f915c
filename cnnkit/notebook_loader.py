"""Define a notebook's classes by running its code as its author ran it, without the kit's checks and figures.

Used by the kit's verdict (in the grading sandbox), by notebook 03 (to reuse the layers a student wrote in
notebooks 01 and 02) and by the tests (to load the reference layers from ``solutions/``, so there is no second
copy that could drift).

What runs, in notebook order, in one fresh namespace whose ``__name__`` is ``"__main__"`` (as in a kernel):

- every statement of every code cell the notebook's author wrote: the solution cells and every cell they added
  (cells without nbgrader metadata), whole;
- of the kit's own cells (nbgrader metadata, not a solution cell), only the statements that bind a name that code
  uses, directly or through other such statements: the imports, a constant. The kit's checks, figures and demos
  are left out, and its test cells never run.

IPython-only lines (magics, shell escapes) are blanked. As in nbgrader's run of the notebook, a cell stops at its
first error or at its time limit, the failure is recorded, and the next cell runs: it only fails what depends on it.
"""

import ast
import builtins
import contextlib
import itertools
import json
import os
import signal
import symtable
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cnnkit.ast_lock import AST_LOCK

CELL_TIMEOUT = 120  # seconds a cell may run, in grading and in make check (notebook 03 trains its network in one)


class NotebookLoadError(ImportError):
    """The notebook cannot be read, or does not define the requested classes."""


class CellTimedOut(BaseException):
    """Raised inside a cell that ran past its time limit (a BaseException, so ``except Exception`` lets it through)."""


@dataclass(frozen=True, eq=False)
class Statement:
    """One top-level statement of a code cell: ``code`` is its AST node, or the SyntaxError of a cell that does not
    compile (the whole cell, which then fails when it runs)."""

    cell: int  # the code cell's number, from 1
    index: int  # the statement's number in its cell, from 0
    code: object
    kit: bool  # from one of the kit's cells (run only when needed)


# ---- reading the notebook ---------------------------------------------------------------------------------

def _joined(source):
    """A cell's source as one string (the .ipynb format allows a list of lines)."""
    return source if isinstance(source, str) else "".join(source)


def _python_lines(source):
    """Cell source with IPython-only lines (magics and shell escapes) blanked, so that line numbers still match."""
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _role(cell):
    """"author" (a solution cell or a cell the author added), "test" (a graded test cell) or "kit" (the rest)."""
    meta = cell.get("metadata", {}).get("nbgrader")
    if not isinstance(meta, dict) or meta.get("solution"):
        return "author"
    return "test" if meta.get("grade") else "kit"


def _code_cells(cells):
    """[(code cell number, source, role)] of a notebook's cells (dicts as in the .ipynb file)."""
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    return [(number, _joined(cell["source"]), _role(cell)) for number, cell in enumerate(code, start=1)]


def _read_code_cells(path):
    """:func:`_code_cells` of the notebook at ``path``."""
    try:  # plain JSON: nbformat's schema validation would cost seconds and is not needed to read code cells
        return _code_cells(json.loads(path.read_text(encoding="utf-8"))["cells"])
    except Exception as error:
        raise NotebookLoadError(f"cannot read {path.name}: {error!r}") from error


# ---- which statements run -------------------------------------------------------------------------------

DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
NESTED_SCOPES = (*DEFINITIONS, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _own_scope(node):
    """The nodes under ``node`` that run in its scope, and the defs and classes it holds (not their bodies)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, DEFINITIONS):
            yield child
        elif not isinstance(child, NESTED_SCOPES):
            yield child
            yield from _own_scope(child)


def _names_bound(node):
    """The global names a top-level statement binds ("*" for a star import)."""
    if isinstance(node, DEFINITIONS):
        return {node.name}
    bound = set()
    for item in [node, *_own_scope(node)]:
        if isinstance(item, (ast.Import, ast.ImportFrom)):
            bound |= {"*" if alias.name == "*" else (alias.asname or alias.name).split(".")[0] for alias in item.names}
        elif isinstance(item, DEFINITIONS):
            bound.add(item.name)
        elif isinstance(item, ast.Name) and isinstance(item.ctx, (ast.Store, ast.Del)):
            bound.add(item.id)
    return bound


def _names_used(node):
    """The global names a top-level statement reads (a method's own local variables are not among them)."""

    def read(table):
        names = {symbol.get_name() for symbol in table.get_symbols()
                 if symbol.is_referenced() and (table.get_type() == "module" or symbol.is_global())}
        return names.union(*(read(child) for child in table.get_children()))

    return read(symtable.symtable(ast.unparse(node), "statement", "exec"))


def plan(notebook_path):
    """The statements :func:`run_code` runs, in order (see the module docstring).

    :raises NotebookLoadError: if the notebook cannot be read.
    """
    return _plan(_read_code_cells(Path(notebook_path)))


def plan_of_cells(cells):
    """:func:`plan` of a notebook already read: its cells, dicts as in the .ipynb file."""
    return _plan(_code_cells(cells))


def _plan(code_cells):
    with AST_LOCK:
        return _plan_unlocked(code_cells)


def _plan_unlocked(code_cells):
    statements = []
    for number, source, role in code_cells:
        if role == "test":
            continue
        try:
            tree = ast.parse(_python_lines(source))
        except SyntaxError as error:
            if role == "author":
                statements.append(Statement(number, 0, error, kit=False))
            continue
        statements += [Statement(number, index, node, kit=role == "kit") for index, node in enumerate(tree.body)]
    chosen = [statement for statement in statements if not statement.kit]
    used = set().union(*(_names_used(s.code) for s in chosen if isinstance(s.code, ast.AST)))
    grown = True
    while grown:
        grown = False
        for statement in statements:
            if statement.kit and statement not in chosen:
                bound = _names_bound(statement.code)
                if bound & used or "*" in bound:
                    chosen.append(statement)
                    used |= _names_used(statement.code)
                    grown = True
    return [statement for statement in statements if statement in chosen]


TEACHING_TAG = "teaching"  # the tag of the kit's cells that only teach (figures, demos): nothing graded needs them


def teaching_cells(cells, is_teaching):
    """The indices (in ``cells``) of the kit's cells that only teach and that the author's code does not need: a
    check can leave them out. A cell the author's code needs (one of its statements is in :func:`plan_of_cells`,
    e.g. it binds a name the student's class reads) is not among them.

    :param cells: a notebook's cells, dicts as in the .ipynb file.
    :param is_teaching: called with a kit cell (locked, neither a solution nor a graded test): whether it teaches.
    """
    needed = {statement.cell for statement in plan_of_cells(cells) if statement.kit}  # code cell numbers
    found, number = set(), 0
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        number += 1
        meta = cell.get("metadata", {}).get("nbgrader", {})
        kit_cell = meta.get("locked") and not meta.get("solution") and not meta.get("grade")
        if kit_cell and number not in needed and is_teaching(cell):
            found.add(index)
    return found


def code_that_runs(notebook_path):
    """The source of the statements :func:`run_code` runs, as one string (a cell with a syntax error as a comment)."""
    return "\n".join(ast.unparse(s.code) if isinstance(s.code, ast.AST) else f"# code cell {s.cell}: syntax error"
                     for s in plan(notebook_path))


# ---- running them --------------------------------------------------------------------------------------

@contextlib.contextmanager
def _quiet():
    """Nothing the code prints or displays reaches the caller's output, and the figures it opens are closed."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    figures_before = set(pyplot.get_fignums()) if pyplot else set()
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    with contextlib.ExitStack() as stack:
        sink = stack.enter_context(open(os.devnull, "w", encoding="utf-8"))
        stack.enter_context(contextlib.redirect_stdout(sink))
        stack.enter_context(contextlib.redirect_stderr(sink))
        if shell is not None:  # in a kernel (notebook 03 at home): also what the code displays
            from IPython.utils.capture import capture_output
            stack.enter_context(capture_output(stdout=False, stderr=False, display=True))
        yield
    pyplot = sys.modules.get("matplotlib.pyplot")
    for number in set(pyplot.get_fignums()) - figures_before if pyplot else ():
        pyplot.close(number)


@contextlib.contextmanager
def _time_limit(seconds):
    """Raise :class:`CellTimedOut` in the block after ``seconds`` (None: no limit; only in the main thread)."""
    if seconds is None or threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum, frame):
        raise CellTimedOut()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, max(seconds, 0.001))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_type = type  # taken before any notebook code runs, which may replace builtins


def describe_error(error, limit=300):
    """'TypeError: message' for an exception (at most ``limit`` characters), whatever its __str__ does."""
    try:
        text = str(error)
    except BaseException:
        text = "(its message cannot be shown)"
    return f"{_type(error).__name__}: {text}"[:limit] if text else _type(error).__name__


def _execute(statement, path, namespace):
    if isinstance(statement.code, SyntaxError):
        raise statement.code
    code = compile(ast.Module(body=[statement.code], type_ignores=[]), f"{path.name}, code cell {statement.cell}",
                   "exec")
    exec(code, namespace)


def run_code(notebook_path, cell_timeout=None, total_timeout=None, skip=(), before=None):
    """Run the notebook's code (see the module docstring) in a fresh namespace, quietly.

    :param cell_timeout: seconds each cell may run (None: no limit).
    :param total_timeout: seconds all of them may run; the cells after that are not run (None: no limit).
    :param skip: (cell, index) of statements not to run (e.g. ones that ended the process in an earlier run).
    :param before: called with each :class:`Statement` just before it runs.
    :returns: (namespace, problems): the notebook's globals, and one sentence per cell that failed or was not run.
    :raises NotebookLoadError: if the notebook cannot be read.
    :raises KeyboardInterrupt: when the person running it interrupts it.
    """
    path = Path(notebook_path)
    statements = plan(path)
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    problems, started = [], time.monotonic()
    with _quiet():
        for cell, group in itertools.groupby(statements, key=lambda statement: statement.cell):
            limit = cell_timeout
            if total_timeout is not None:
                left = total_timeout - (time.monotonic() - started)
                if left <= 0:
                    problems.append(f"code cell {cell} and the ones after it were not run: the notebook's time limit "
                                    f"({total_timeout:g} s) ran out")
                    break
                limit = left if limit is None else min(limit, left)
            try:
                with _time_limit(limit):
                    for statement in group:
                        if (statement.cell, statement.index) not in skip:
                            if before is not None:
                                before(statement)
                            _execute(statement, path, namespace)
            except CellTimedOut:
                problems.append(f"code cell {cell} ran past its time limit ({limit:g} s) and was stopped")
            except KeyboardInterrupt:
                raise
            except BaseException as error:  # SystemExit too: a kernel goes on after it
                problems.append(f"code cell {cell} raised {describe_error(error)}")
    return namespace, problems


def classes_in(namespace, class_names, problems, notebook_path):
    """{name: class} of ``class_names`` in a namespace :func:`run_code` filled.

    :raises NotebookLoadError: naming the missing classes and what went wrong in the notebook.
    """
    missing = [name for name in class_names if not isinstance(namespace.get(name), type)]
    if missing:
        why = f" ({'; '.join(problems)})" if problems else ""
        raise NotebookLoadError(f"{Path(notebook_path).name} does not define {', '.join(missing)}{why}")
    return {name: namespace[name] for name in class_names}


def load_classes(notebook_path, *class_names, cell_timeout=None):
    """Define ``class_names`` as the notebook's author did (see the module docstring) and return them.

    :param notebook_path: path of an .ipynb file.
    :param class_names: names of top-level classes to return.
    :param cell_timeout: seconds each cell may run (None: no limit).
    :returns: dict mapping each name to its class object.
    :raises NotebookLoadError: if the notebook is unreadable or a class is not defined once its code has run.
    """
    namespace, problems = run_code(notebook_path, cell_timeout=cell_timeout)
    return classes_in(namespace, class_names, problems, notebook_path)
