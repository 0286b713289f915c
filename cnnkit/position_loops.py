"""Does a layer loop in Python over its output positions? Count the lines of the student's code that one forward
and backward pass runs, at two input sizes.

A vectorised layer runs the same lines whatever the size of its input: numpy does the work of every position, and a
loop, if there is one, goes over something that does not grow with the input (the k x k offsets of a window, say).
A loop over the output positions, or over their rows, runs its body once per position or row, so its lines run more
often for a larger input. "The student's code" is every line outside the kit, the standard library and installed
packages (:func:`cnnkit.tracebacks.is_library`), also when numpy calls it back (``np.vectorize``,
``np.apply_along_axis``).

The visible check (:func:`cnnkit.checks.fastconv2d`) and the grader's harvest both count with :func:`lines_run`
and judge with :func:`loop_problem`.
"""

import linecache
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np

from cnnkit.tracebacks import is_library

# The output sizes (H_out = W_out) compared: a loop over the rows runs 9 more times, one over the positions 135 more.
OUTPUTS = (3, 12)


@dataclass(frozen=True)
class Probe:
    """A conv layer configuration, run at the two input sizes that give outputs of :data:`OUTPUTS`."""

    batch: int
    channels: int
    filters: int
    k: int
    stride: int
    padding: int

    def input_size(self, output):
        """H (= W) of the input whose output is ``output`` x ``output``."""
        return (output - 1) * self.stride + self.k - 2 * self.padding

    def inputs(self, output, seed=0):
        """{"x": (N, C, H, W), "weights": (F, C, k, k), "bias": (F,), "grad_output": (N, F, output, output)} for an
        output of ``output`` x ``output``; the weights and bias are the same for every output size."""
        rng, n, f = np.random.default_rng(seed), self.batch, self.filters
        weights, bias = rng.normal(size=(f, self.channels, self.k, self.k)), rng.normal(size=f)
        rng, size = np.random.default_rng([seed, output]), self.input_size(output)
        return {"x": rng.normal(size=(n, self.channels, size, size)), "weights": weights, "bias": bias,
                "grad_output": rng.normal(size=(n, f, output, output))}


PROBES = (Probe(batch=2, channels=2, filters=3, k=3, stride=1, padding=1),
          Probe(batch=2, channels=2, filters=3, k=2, stride=2, padding=0))


class TracingInterrupted(RuntimeError):
    """The student's code replaced the line tracer while it was counted (sys.settrace, or a debugger)."""


def lines_run(layer, x, grad_output, *, _library=is_library, _counter=Counter, _settrace=sys.settrace,
              _gettrace=sys.gettrace):
    """Counter {(file name, line number): times} of the student's lines that ``layer.forward(x)`` and then
    ``layer.backward(its cache, grad_output)`` run. What they raise propagates; the tracer that was set before
    (a debugger's) is set again afterwards. (What it uses is bound when the module is imported, before any student
    code runs: code that replaces ``sys.settrace`` or this module's names later changes nothing here.)

    :raises TracingInterrupted: if the tracer was replaced during the pass.
    """
    counts, student = _counter(), {}  # student: file name -> whether its code is the student's, decided once

    def count(frame, event, arg):
        if event == "line":
            counts[frame.f_code.co_filename, frame.f_lineno] += 1
        return count

    def on_call(frame, event, arg):
        name = frame.f_code.co_filename
        if name not in student:
            student[name] = not _library(name)
        return count if student[name] else None

    previous = _gettrace()
    _settrace(on_call)
    try:
        layer.backward(layer.forward(x), grad_output)
        replaced = _gettrace() is not on_call
    finally:
        _settrace(previous)
    if replaced:
        raise TracingInterrupted("the line count was interrupted: sys.settrace was called during forward or backward")
    return counts


def most_grown(small, large):
    """The line whose count grew most from ``small`` to ``large`` (Counters of :func:`lines_run`), the first to run
    among equals (a loop's own line before its body): (file name, line number, times in small, times in large), or
    None if no line grew."""
    grown = max(large, key=lambda line: large[line] - small[line], default=None)
    if grown is None or large[grown] <= small[grown]:
        return None
    return (*grown, small[grown], large[grown])


def describe_line(filename, line):
    """The source text of a line of the student's code, or "line L of F" when it cannot be read (IPython keeps
    the cells' text in linecache; the grader's harvest does not)."""
    text = linecache.getline(filename, line).strip()
    return f"`{text}`" if text else f"line {line} of {filename}"


def loop_problem(total_small, total_large, rows_small, rows_large):
    """None when the student's code ran about as many lines for both sizes, else a sentence saying what is wrong.
    It counts as a loop over the positions when it grew by at least one line per extra output row. No line at all
    means the lines were not counted: forward and backward run at least one line each."""
    if min(total_small, total_large) < 2:
        return (f"the lines of your forward and backward could not be counted ({total_small} and {total_large} were "
                "seen; they run at least one each).")
    if total_large - total_small < rows_large - rows_small:
        return None
    return (f"forward and backward ran {total_small} lines of your code for a {rows_small}x{rows_small} output and "
            f"{total_large} for a {rows_large}x{rows_large} output: a Python loop over the output positions (or "
            f"their rows), where a vectorised layer runs the same lines for both sizes.")


def loop_cause(line, rows_small, rows_large):
    """The "Likely cause" of :func:`loop_problem`, naming the line that grew most (a description from
    :func:`describe_line`, with its two counts)."""
    text, times_small, times_large = line
    return (f"{text} ran {times_small} times for the {rows_small}x{rows_small} output and {times_large} times for "
            f"the {rows_large}x{rows_large} one. Lay out every window at once with sliding_window_view (4.8) and "
            f"loop at most over the k x k offsets of a window, as col2im does.")
