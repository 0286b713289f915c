"""FastConv2dLayer must have no Python loop over the output positions (issue 14): cnnkit.position_loops counts the
lines of the student's code at two input sizes, for the visible check and for the grader's verdict alike.

Layers are defined here the way IPython defines a notebook cell's code: compiled under a file name whose text
linecache holds, so that a failure can quote the line. The mutation suite (tests/mutations.py, LOOPS) checks that
looping layers also lose their points under the kit's verdict.
"""

import itertools
import linecache
import sys

import nbformat
import numpy as np
import pytest

from autograder import verdict
from autograder.release import SOLUTIONS
from autograder.sample_class import STACKING, solution_cell
from autograder.runner.harvest import run_call
from cnnkit import checks, position_loops
from reference import REFERENCE_CLASSES, Conv2dLayer, FastConv2dLayer

_cells = itertools.count()

PASSING = {  # vectorised layers, written differently from the reference (each must still agree with it)
    "einsum": '''
class Layer(FastConv2dLayer):
    def forward(self, x):
        p, s = self.padding, self.stride
        windows = sliding_window_view(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), (self.filter_size,) * 2,
                                      axis=(2, 3))[:, :, ::s, ::s]
        out = np.einsum("nchwab,fcab->nfhw", windows, self.weights) + self.bias[:, None, None]
        return {"x": x, "out": out}
''',
    "im2col by a loop over the k x k offsets": '''
class Layer(FastConv2dLayer):
    def _columns(self, x):
        k, s, p = self.filter_size, self.stride, self.padding
        x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        n, c, h_padded, w_padded = x_padded.shape
        h_out, w_out = (h_padded - k) // s + 1, (w_padded - k) // s + 1
        columns = np.empty((n, h_out, w_out, c, k, k))
        for a in range(k):
            for b in range(k):
                columns[..., a, b] = x_padded[:, :, a:a + s * h_out:s, b:b + s * w_out:s].transpose(0, 2, 3, 1)
        return columns.reshape(n * h_out * w_out, c * k * k), (n, h_out, w_out)
''',
}
LOOPING = {  # name: (layer, the line that must be named)
    "the loop layer's forward, inherited": ('''
class Layer(FastConv2dLayer):
    def forward(self, x):
        return Conv2dLayer.forward(self, x)
''', None),
    "a loop over the rows in forward": ('''
class Layer(FastConv2dLayer):
    def forward(self, x):
        columns, (n, h_out, w_out) = self._columns(x)
        rows = columns.reshape(n, h_out, w_out, -1)
        out = np.empty((n, h_out, w_out, self.n_outchannel))
        for row in range(h_out):
            out[:, row] = rows[:, row] @ self.weights.reshape(self.n_outchannel, -1).T + self.bias
        return {"x": x, "out": out.transpose(0, 3, 1, 2)}
''', "for row in range(h_out):"),
    "np.apply_along_axis over the windows": ('''
class Layer(FastConv2dLayer):
    def forward(self, x):
        columns, (n, h_out, w_out) = self._columns(x)
        matrix = self.weights.reshape(self.n_outchannel, -1).T
        out_rows = np.apply_along_axis(lambda window: window @ matrix + self.bias, 1, columns)
        return {"x": x, "out": out_rows.reshape(n, h_out, w_out, -1).transpose(0, 3, 1, 2)}
''', "out_rows = np.apply_along_axis(lambda window: window @ matrix + self.bias, 1, columns)"),
}


def define(source):
    """The class ``Layer`` of ``source``, compiled as IPython compiles a cell (its text kept in linecache)."""
    filename = f"/tmp/ipykernel_test/{next(_cells)}.py"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {"np": np, "sliding_window_view": np.lib.stride_tricks.sliding_window_view,
                 "Conv2dLayer": Conv2dLayer, "FastConv2dLayer": FastConv2dLayer}
    exec(compile(source, filename, "exec"), namespace)
    return namespace["Layer"]


def counts_of(layer_cls, probe):
    """The Counters of lines_run at both sizes of ``probe``."""
    counts = []
    for output in position_loops.OUTPUTS:
        arrays = probe.inputs(output)
        layer = layer_cls(n_inchannel=probe.channels, n_outchannel=probe.filters, filter_size=probe.k,
                          stride=probe.stride, padding=probe.padding)
        layer.weights, layer.bias = arrays["weights"], arrays["bias"]
        counts.append(position_loops.lines_run(layer, arrays["x"], arrays["grad_output"]))
    return counts


@pytest.mark.parametrize("probe", position_loops.PROBES, ids=lambda probe: f"stride {probe.stride}")
def test_the_reference_layer_runs_the_same_lines_at_both_sizes_and_the_loop_layer_more(probe):
    small, large = counts_of(FastConv2dLayer, probe)
    assert small == large and sum(small.values()) > 10  # its own lines, counted, and not one more at 12x12
    small, large = counts_of(Conv2dLayer, probe)
    rows, positions = (position_loops.OUTPUTS[1] ** power - position_loops.OUTPUTS[0] ** power for power in (1, 2))
    assert sum(large.values()) - sum(small.values()) >= positions > rows


@pytest.mark.parametrize("name", PASSING)
def test_vectorised_layers_written_another_way_pass(name, capsys):
    checks.fastconv2d(define(PASSING[name]))  # right numbers in every case, and no loop over the positions
    assert capsys.readouterr().out == "FastConv2dLayer, vectorised, forward and backward: 12 cases passed.\n"


@pytest.mark.parametrize("name", LOOPING)
def test_a_loop_over_positions_fails_the_check_and_the_line_is_named(name):
    source, line = LOOPING[name]
    layer_cls = define(source)
    checks.conv2d_forward(layer_cls)  # its numbers are right: only the loop is wrong
    with pytest.raises(checks.CheckFailed) as failure:
        checks.fastconv2d(layer_cls)
    message = str(failure.value)
    assert message.startswith("fastconv2d: forward and backward ran ") and "a Python loop over the output positions" \
        in message.splitlines()[0]
    assert "Configuration: stride 1, padding 1, batch 2, 2 channels, 3 filters, 3x3 input, 3x3 filter" in message
    if line:
        assert f"Likely cause: `{line}` ran " in message


def test_the_verdict_judges_the_same_counts(hidden_cases):
    looping = define(LOOPING["a loop over the rows in forward"][0])
    for layer_cls, fails in ((FastConv2dLayer, False), (looping, True)):
        classes = {**REFERENCE_CLASSES, "fastconv2d": layer_cls}
        calls = [call for call in verdict.calls_of("fastconv2d", hidden_cases) if call["kind"] == "positions"]
        assert len(calls) == len(position_loops.PROBES)
        reasons = [verdict.judge(call, run_call(call, classes)) for call in calls]
        if fails:
            named = "Likely cause: `for row in range(h_out):` ran "
            assert all("a Python loop over the output positions" in reason and named in reason
                       for reason in reasons), reasons
        else:
            assert reasons == [None, None]
    nothing_counted = verdict.judge(calls[0], {"lines": np.array([0, 0])})  # the counter was switched off
    assert nothing_counted.startswith("the lines of your forward and backward could not be counted")


def test_the_tracer_set_before_is_set_again_even_when_the_layer_raises():
    def debugger(frame, event, arg):
        return None

    class Raising(FastConv2dLayer):
        def backward(self, cache, grad_output):
            raise ValueError("not yet")

    arrays = position_loops.PROBES[0].inputs(3)
    before = sys.gettrace()
    sys.settrace(debugger)
    try:
        assert position_loops.lines_run(FastConv2dLayer(2, 3, padding=1), arrays["x"], arrays["grad_output"])
        assert sys.gettrace() is debugger
        with pytest.raises(ValueError, match="not yet"):
            position_loops.lines_run(Raising(2, 3, padding=1), arrays["x"], arrays["grad_output"])
        assert sys.gettrace() is debugger
    finally:
        sys.settrace(before)


def test_code_that_turns_the_counter_off_fails_and_is_flagged_for_a_human_look():
    hiding = define('''
import sys

class Layer(FastConv2dLayer):
    def forward(self, x):
        sys.settrace(None)
        return Conv2dLayer.forward(self, x)
''')
    with pytest.raises(checks.CheckFailed, match="TracingInterrupted: the line count was interrupted"):
        checks.check_no_position_loop(hiding)
    assert verdict.BORROWED.findall("sys.settrace(None)") == ["settrace"]


@pytest.fixture(scope="module")
def hidden_cases():
    from autograder.hidden_cases import HIDDEN_CASES

    return verdict.load_hidden(HIDDEN_CASES)


def test_in_the_sandbox_a_loop_layer_that_fakes_the_count_fails_and_is_flagged_for_a_human_look(tmp_path, hidden_cases):
    """The harvest bound what it counts with before the student's code ran: replacing the counter, the kit's
    library folders or sys.settrace changes nothing, and the names are listed for review."""
    notebook = nbformat.read(SOLUTIONS / f"{STACKING}.ipynb", as_version=4)
    solution_cell(notebook, "fastconv2d").source = '''
import sys
from collections import Counter
from pathlib import Path
import cnnkit.position_loops
import cnnkit.tracebacks

cnnkit.position_loops.lines_run = lambda layer, x, grad_output, **kwargs: Counter({("cell", 1): 5})
cnnkit.position_loops.is_library = cnnkit.tracebacks.is_library = lambda filename, *args: True
cnnkit.tracebacks.LIBRARIES = (Path("/"),)
sys.settrace = lambda tracer: None


class FastConv2dLayer(Conv2dLayer):
    """The loop layer, under the fast layer's name."""
'''
    path = tmp_path / f"{STACKING}.ipynb"
    nbformat.write(notebook, path)
    judged = verdict.judge_notebook(["conv2d_forward", "fastconv2d"], hidden_cases, [path])
    assert judged.tests["conv2d_forward"].passed
    reason = judged.tests["fastconv2d"].reason
    assert not judged.tests["fastconv2d"].passed and "a Python loop over the output positions" in reason, reason
    assert {"LIBRARIES", "position_loops", "settrace", "tracebacks"} <= set(verdict.borrowed_code(path))
