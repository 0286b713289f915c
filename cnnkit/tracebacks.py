"""Brief error displays in notebooks: the checks speak first.

In IPython, a :class:`~cnnkit.checks.CheckFailed` (any AssertionError of the kit) and a ``NotImplementedError``
(a stub) show their message first, then only the student's frames, one line of code each: the notebook's cells
and the student's own files, none of the kit's, the standard library's or installed packages'. Under
``%xmode Minimal`` (the grading kernels) only the message. ``%tb`` still shows the full traceback.
"""

import functools
import sys
import sysconfig
import traceback
from pathlib import Path

EXCEPTIONS = (AssertionError, NotImplementedError)
LIBRARIES = (Path(__file__).resolve().parent,
             *{Path(sysconfig.get_path(name)).resolve() for name in ("stdlib", "platstdlib", "purelib", "platlib")})


def install():
    """Show the kit's AssertionErrors and all NotImplementedErrors briefly in this IPython session (the
    student's own AssertionErrors as usual); outside IPython, do nothing. Calling it again changes nothing."""
    ipython = sys.modules.get("IPython")  # not imported: not running in IPython (and no need to load it)
    shell = ipython.get_ipython() if ipython else None
    if shell is not None:
        shell.set_custom_exc(EXCEPTIONS, _show)


def _show(shell, etype, value, tb, tb_offset=None):
    """IPython's handler for EXCEPTIONS; ``tb`` starts with IPython's own frame. IPython ignores what a handler
    returns: it must display the error itself, as the cell's error output (without one, nbgrader would count
    the cell as passed)."""
    from IPython.core.ultratb import ListTB  # here IPython is loaded; the kit does not load it elsewhere

    if isinstance(value, AssertionError) and not type(value).__module__.startswith(f"{__package__}."):
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return
    shell._get_exc_info((etype, value, tb))  # stores it in sys.last_*, where %tb and %debug look
    try:
        stb = [render(value, tb.tb_next, ListTB(theme_name=shell.colors), shell.InteractiveTB.mode == "Minimal")]
    except Exception:  # never lose the error output: IPython's usual traceback then
        stb = shell.InteractiveTB.structured_traceback(etype, value, tb)
    shell._showtraceback(etype, value, stb)


def render(error, tb, formatter, minimal=False):
    """The text shown for ``error`` raised through the frames of ``tb``: its type and message, then, unless
    ``minimal``, the student's frames, down into the exception it was raised from (shown last), if any.

    One string, without a final newline: frontends join a traceback's strings with newlines, the terminal in
    Plain mode without.
    :param formatter: an IPython ``ListTB`` (it gives the colours and names cells "Cell In[n]").
    """
    parts = formatter.get_exception_only(type(error), error)
    cause = error.__cause__
    frames = [] if minimal else _student_frames(tb) + (_student_frames(cause.__traceback__) if cause else [])
    if frames:
        heading = "Raised in your code" if cause else "Your code"
        parts += [f"\n{heading} (most recent call last):\n", *formatter._format_list(frames)]
        if cause:
            parts += formatter.get_exception_only(type(cause), cause)
    return "".join(parts).rstrip("\n")


def _student_frames(tb):
    """The frames of ``tb``, outermost first (FrameSummary, named like "Class.method"), that are not in the kit,
    the standard library or installed packages."""
    frames = (traceback.FrameSummary(frame.f_code.co_filename, lineno, frame.f_code.co_qualname)
              for frame, lineno in traceback.walk_tb(tb))
    return [frame for frame in frames if not is_library(frame.filename)]


@functools.lru_cache(maxsize=1024)
def is_library(filename, libraries=LIBRARIES):
    """True if the code of ``filename`` (a code object's co_filename) belongs to the kit, the standard library or
    an installed package; False for the student's: the notebook's cells, and files or strings of their own. (The
    folders are bound when the module is imported, before any student code runs.)"""
    path = Path(filename).resolve()
    return filename.startswith("<frozen ") or any(path.is_relative_to(folder) for folder in libraries)
