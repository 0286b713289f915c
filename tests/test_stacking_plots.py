"""The figures of notebook 4 (cnnkit.stacking_plots): each draws from small hand-made arrays, has its panels and
says what it should; the module computes no layer output (it ships to students).
"""

import ast
from pathlib import Path

import numpy as np
import pytest
from matplotlib import colors as mcolors
from matplotlib.figure import Figure

from cnnkit import stacking_plots
from cnnkit.plots import HIGHLIGHT

SOURCE = Path(stacking_plots.__file__)
GRAD_OUTPUT = np.array([[1.0, -2.0], [0.5, 3.0]])
WEIGHTS = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 1.0], [2.0, 0.0, 1.0]])
GRAD_X = np.arange(16.0).reshape(4, 4) / 8  # any numbers: the figures only show them


def texts(fig):
    """Every string the figure shows: its own texts, the suptitle/supxlabel, and each axis's titles and texts."""
    found = [text.get_text() for text in fig.texts]
    for label in ("_suptitle", "_supxlabel"):
        if getattr(fig, label, None) is not None:
            found.append(getattr(fig, label).get_text())
    for ax in fig.axes:
        found += [ax.get_title(loc) for loc in ("left", "center", "right")]
        found += [text.get_text() for text in ax.texts]
        found += [tick.get_text() for tick in ax.get_xticklabels() + ax.get_yticklabels()]
    return "\n".join(found)


def red_boxes(ax):
    """(x, y) of the red outlines in a panel."""
    return [(p.get_x(), p.get_y()) for p in ax.patches if p.get_edgecolor() == mcolors.to_rgba(HIGHLIGHT)]


def check(fig, n_axes, *expected):
    assert isinstance(fig, Figure)
    assert len(fig.axes) == n_axes
    shown = texts(fig)
    for snippet in expected:
        assert snippet in shown, f"{snippet!r} not in the figure's texts"
    fig.canvas.draw()  # the layout and the arrows across axes draw without error


def test_padding_counts_the_windows_and_gives_the_output_sizes():
    fig = stacking_plots.plot_padding(height=5, width=5, k=3, padding=1, stride=1)
    check(fig, 2, "no padding: H_out = (5 - 3)//1 + 1 = 3", "padding 1: H_out = (5 + 2 - 3)//1 + 1 = 5",
          "corner used 1x, centre used 9x", "corner used 4x, centre used 9x")
    plain = [text.get_text() for text in fig.axes[0].texts]
    assert plain.count("1") == 4 and plain.count("9") == 1  # the corners once, the centre by all 9 windows


def test_input_gradient_shows_the_full_correlation_with_the_flipped_filter():
    fig = stacking_plots.plot_input_gradient(GRAD_OUTPUT, WEIGHTS, GRAD_X)
    check(fig, 3, "dx[i, j] = sum over a, b of g_padded[i + a, j + b] * w[k-1-a, k-1-b]", "w[::-1, ::-1]",
          "w[2,2]", "dx[1, 1] = 0.625", "k - 1 = 2 zeros")
    padded = [text.get_text() for text in fig.axes[0].texts]
    assert padded.count("0") == 6 * 6 - 4 and "-2" in padded  # the 2x2 grad_output inside 2 rings of zeros


def test_input_gradient_scatter_has_one_panel_per_output_position():
    fig = stacking_plots.plot_input_gradient_scatter(GRAD_OUTPUT, WEIGHTS, GRAD_X)
    check(fig, 4 + 1, "g[1,1] = 3", "w22", "their contributions add up", "1.88")


def test_overlapping_pooling_marks_the_shared_maximum():
    x = np.array([[1, 2, 0, 1, 0], [0, 3, 1, 0, 2], [1, 0, 5, 1, 0], [2, 1, 0, 0, 1], [0, 4, 1, 3, 0]], float)
    grad_output = np.array([[0.5, 2.0], [1.0, -1.0]])
    grad_x = np.zeros((5, 5))
    grad_x[2, 2], grad_x[4, 3] = 3.5, -1.0
    pooled = np.array([[5.0, 5.0], [5.0, 3.0]])
    fig = stacking_plots.plot_overlapping_pooling(x, grad_output, grad_x, k=3, stride=2, pooled=pooled)
    check(fig, 3, "3x3 windows, stride 2", "SUM", "3.5", "grad_output")
    assert red_boxes(fig.axes[2]) == [(2, 2)]  # the maximum of three windows, found from pooled
    mask = np.zeros((5, 5), dtype=bool)
    mask[4, 3] = True
    fig = stacking_plots.plot_overlapping_pooling(x, grad_output, grad_x, shared=mask)
    assert red_boxes(fig.axes[2]) == [(3, 4)]


def test_im2col_makes_one_row_per_window():
    x = np.arange(18.0).reshape(2, 3, 3)
    columns = np.array([x[:, p:p + 2, q:q + 2].ravel() for p in range(2) for q in range(2)])  # (4, 8)
    fig = stacking_plots.plot_im2col(x, columns, k=2, stride=1, n_filters=2)
    check(fig, 2 + 2, "out (H_out W_out, F) = columns @ weights", "(4, 8)", "filter 1", "1,1,0", "channel c = 1")
    row_11 = [text.get_text() for text in fig.axes[2].texts if 3 < text.get_position()[1] < 4]
    assert row_11 == ["4", "5", "7", "8", "13", "14", "16", "17"]  # window (1, 1) of both channels
    with pytest.raises(ValueError, match="columns has shape"):
        stacking_plots.plot_im2col(x, columns[:3], k=2)


def test_speed_annotates_times_ratios_and_missing_libraries():
    fig = stacking_plots.plot_speed({"loops": 2.1, "im2col": 0.013, "scipy": 0.004, "torch": None})
    check(fig, 1, "2100 ms (525x the fastest)", "13 ms (3.25x the fastest)", "4 ms (fastest)", "not installed")
    assert fig.axes[0].get_xscale() == "log"


def test_network_comparison_draws_one_line_per_network():
    def history(rate):
        return [dict(epoch=e, train_loss=1 / (rate * e), train_accuracy=0.5, val_loss=1.0, val_accuracy=rate * e / 10)
                for e in range(1, 4)]

    fig = stacking_plots.plot_network_comparison({"one conv layer": history(1), "two conv layers": history(2)})
    check(fig, 2, "validation accuracy", "training loss")
    for ax in fig.axes:
        assert [line.get_label() for line in ax.get_lines()] == ["one conv layer", "two conv layers"]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["one conv layer", "two conv layers"]
    assert np.allclose(fig.axes[0].get_lines()[1].get_ydata(), [20, 40, 60])  # accuracy in %


def test_the_module_computes_no_layer_and_uses_no_grader_or_scipy():
    text = SOURCE.read_text()
    assert "scipy" not in text and "autograder" not in text
    tree = ast.parse(text)
    modules = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    modules |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert modules == {"numpy", "cnnkit.plots"}
    assert not any(isinstance(node, ast.MatMult) for node in ast.walk(tree))
    called = {getattr(node.func, "attr", getattr(node.func, "id", None)) for node in ast.walk(tree)
              if isinstance(node, ast.Call)}
    assert not called & {"correlate", "correlate2d", "convolve", "convolve2d", "einsum", "dot", "tensordot",
                         "matmul", "argmax", "amax", "maximum"}
