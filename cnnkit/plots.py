"""Figures for the notebooks (matplotlib + seaborn).

Every function takes plain arrays, builds a new :class:`matplotlib.figure.Figure` and returns it. The
figure is made by ``pyplot`` (which sets up Jupyter's inline display) and at once closed there, so pyplot
keeps nothing between calls and a notebook cell ending with the call shows the figure exactly once. Shapes follow the notebooks' notation: H x W input, k filter size,
s stride, H_out = (H - k) // s + 1.
"""

import functools
import importlib

import numpy as np


class LazyModule:
    """A module imported at its first use: matplotlib and seaborn take about two seconds to import, and code that
    draws nothing (the grader, a notebook's checks) should not wait for them."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)


plt = LazyModule("matplotlib.pyplot")
sns = LazyModule("seaborn")
patches = LazyModule("matplotlib.patches")
mcolors = LazyModule("matplotlib.colors")

INK = "#222222"
HIGHLIGHT = "#d62728"
MISSED = "#bbbbbb"


@functools.cache
def _set_theme():
    """seaborn's theme, set once, before the first figure."""
    sns.set_theme()


def new_figure(width, height):
    """A fresh figure with constrained layout and seaborn's theme, already closed in pyplot (shown once, when
    returned)."""
    _set_theme()
    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    return fig


def _clean(ax):
    """Image-style axes: no grid, no frame, ticks only where the caller sets them."""
    ax.grid(False)
    ax.set_facecolor("white")
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0, labelsize=8)


def _index_ticks(ax, n_rows, n_cols, row_label=None, col_label=None):
    """Label every row and column of a cell grid with its index, columns on top."""
    ax.set_xticks(np.arange(n_cols) + 0.5, [str(j) for j in range(n_cols)])
    ax.set_yticks(np.arange(n_rows) + 0.5, [str(i) for i in range(n_rows)])
    ax.xaxis.tick_top()
    ax.xaxis.set_label_position("top")
    if row_label:
        ax.set_ylabel(row_label, fontsize=9)
    if col_label:
        ax.set_xlabel(col_label, fontsize=9)


def _cells(ax, n_rows, n_cols, colors=None, labels=None, fontsize=8):
    """Draw an n_rows x n_cols grid of unit cells, row 0 at the top; colors/labels: dict (i, j) -> value."""
    colors, labels = colors or {}, labels or {}
    for i in range(n_rows):
        for j in range(n_cols):
            ax.add_patch(patches.Rectangle((j, i), 1, 1, facecolor=colors.get((i, j), "white"), edgecolor="#999999",
                                   linewidth=0.8))
            if (i, j) in labels:
                ax.text(j + 0.5, i + 0.5, labels[(i, j)], ha="center", va="center", fontsize=fontsize, color=INK)
    ax.set_xlim(0, n_cols)
    ax.set_ylim(n_rows, 0)
    ax.set_aspect("equal")
    _clean(ax)


def _outline(ax, row, col, height, width, color=INK, style="-", linewidth=2.5, zorder=5):
    """Thick rectangle around the cells [row, row + height) x [col, col + width)."""
    ax.add_patch(patches.Rectangle((col, row), width, height, fill=False, edgecolor=color, linestyle=style,
                           linewidth=linewidth, zorder=zorder))


def _hatch(ax, row, col, height, width, label=None):
    """Grey hatching over cells that no window reaches."""
    ax.add_patch(patches.Rectangle((col, row), width, height, facecolor=mcolors.to_rgba(MISSED, 0.35), edgecolor=MISSED,
                           hatch="///", linewidth=0, zorder=3))
    if label:
        ax.text(col + width / 2, row + height / 2, label, ha="center", va="center", fontsize=7, color="#555555",
                rotation=90 if height > width else 0, zorder=6,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))


def _heatmap(ax, values, cmap="vlag", center=0.0, annotate=True, fmt=".2g", vmin=None, vmax=None, ticks=False,
             linecolor="white"):
    """Annotated matrix (seaborn heatmap): cell (i, j) spans [j, j+1] x [i, i+1], row 0 on top."""
    values = np.asarray(values, dtype=float)
    if center is not None and vmin is None and vmax is None:
        limit = max(float(np.max(np.abs(values - center))), 1e-12)
        vmin, vmax = center - limit, center + limit
    sns.heatmap(values, ax=ax, cmap=cmap, vmin=vmin, vmax=vmax, annot=annotate, fmt=fmt, cbar=False,
                square=True, linewidths=0.6, linecolor=linecolor, annot_kws={"fontsize": 8},
                xticklabels=False, yticklabels=False)
    _clean(ax)
    if ticks:
        _index_ticks(ax, *values.shape)


def plot_sliding_windows(height=5, width=6, k=3, strides=(1, 2)):
    """Where a k x k window goes at each stride, and which OUTPUT cell receives its result.

    One row of panels per stride s: the H x W input (``height`` x ``width``) with the top-left corner
    (i, j) of every window coloured and labelled with its output cell (p, q) = (i // s, j // s), the
    last window outlined, cells that no window covers hatched, and a window that would stick out
    dashed; then the H_out x W_out output with the same colours.

    :returns: the Figure.
    """
    h_outs = [(height - k) // s + 1 for s in strides]
    w_outs = [(width - k) // s + 1 for s in strides]
    fig = new_figure(8.0, 3.0 * len(strides))
    axes = fig.subplots(len(strides), 2, squeeze=False,
                        gridspec_kw={"width_ratios": [width + 1.6, max(w_outs) + 0.6]})
    for row_axes, s, h_out, w_out in zip(axes, strides, h_outs, w_outs):
        ax_in, ax_out = row_axes
        palette = sns.color_palette("husl", h_out * w_out)
        color = {(p, q): mcolors.to_rgba(palette[p * w_out + q], 0.55) for p in range(h_out) for q in range(w_out)}
        anchors = {(s * p, s * q): color[p, q] for p in range(h_out) for q in range(w_out)}
        _cells(ax_in, height, width, colors=anchors,
               labels={(s * p, s * q): f"{p},{q}" for p in range(h_out) for q in range(w_out)})
        covered_rows, covered_cols = s * (h_out - 1) + k, s * (w_out - 1) + k
        notes = []
        if covered_cols < width:
            _hatch(ax_in, 0, covered_cols, height, width - covered_cols)
        if covered_rows < height:
            _hatch(ax_in, covered_rows, 0, height - covered_rows, covered_cols)
        if covered_cols < width or covered_rows < height:
            notes.append("hatched: no window covers it")
        last_i, last_j = s * (h_out - 1), s * (w_out - 1)
        _outline(ax_in, last_i, last_j, k, k, color=INK)
        notes.append("black: the last window")
        if last_j + s + k > width:  # the next window to the right would stick out of the input
            _outline(ax_in, 0, last_j + s, k, k, color=HIGHLIGHT, style="--", linewidth=2)
            overhang = last_j + s + k - width
            ax_in.text(width + overhang / 2, k / 2, "does not fit", ha="center", va="center", fontsize=8,
                       color=HIGHLIGHT, rotation=90)
            notes.append(f"red: the window at j = {last_j + s} sticks out")
        ax_in.text(0, height + 0.2, "\n".join(notes), ha="left", va="top", fontsize=8)
        ax_in.set_xlim(0, max(width, last_j + s + k) + 0.1)
        ax_in.set_ylim(height + 0.05, -0.05)
        _index_ticks(ax_in, height, width, row_label="input row i", col_label="input column j")
        ax_in.set_title(f"input {height}x{width}, k = {k}, stride s = {s}", fontsize=10, loc="left")

        _cells(ax_out, h_out, w_out, colors=color,
               labels={(p, q): f"{p},{q}" for p in range(h_out) for q in range(w_out)})
        _outline(ax_out, h_out - 1, w_out - 1, 1, 1, color=INK)
        ax_out.set_xlim(0, max(w_outs))
        ax_out.set_ylim(max(h_outs), 0)
        _index_ticks(ax_out, h_out, w_out, row_label="output row p", col_label="output column q")
        ax_out.set_title(f"output {h_out}x{w_out}", fontsize=10, loc="left")
        ax_out.text(0, max(h_outs) + 0.15,
                    f"H_out = ({height}-{k})//{s}+1 = {h_out}\nW_out = ({width}-{k})//{s}+1 = {w_out}\n"
                    f"last window: i={last_i}, j={last_j}\n-> out[{last_i}//{s}, {last_j}//{s}]"
                    f" = out[{h_out - 1}, {w_out - 1}]",
                    ha="left", va="top", fontsize=8, family="monospace")
        fig.add_artist(patches.ConnectionPatch(xyA=(last_j + k, last_i + k / 2), coordsA=ax_in.transData,
                                       xyB=(w_out - 1, h_out - 0.5), coordsB=ax_out.transData,
                                       arrowstyle="-|>", color=INK, linewidth=1.2, mutation_scale=12))
    return fig


def plot_kernel_flip(patch, weights):
    """Cross-correlation against convolution on one k x k patch of an image.

    :param patch: (k, k) part of an image under the filter.
    :param weights: (k, k) filter.
    :returns: the Figure: the patch, the filter as used by cross-correlation (deep learning), and the
              filter rotated by 180 degrees as used by the convolution of mathematics, each titled with
              the sum of its products with the patch.
    """
    patch, weights = np.asarray(patch, dtype=float), np.asarray(weights, dtype=float)
    flipped = weights[::-1, ::-1]
    fig = new_figure(8.0, 2.9)
    axes = fig.subplots(1, 3)
    _heatmap(axes[0], patch, cmap="Greys", center=None, vmin=0, vmax=max(1.0, patch.max()), fmt=".3g",
             linecolor="#bbbbbb")
    axes[0].set_title("image patch x", fontsize=10)
    _heatmap(axes[1], weights, fmt=".3g")
    axes[1].set_title(f"cross-correlation: weights as they are\nsum(x * weights) = {np.sum(patch * weights):.3g}",
                      fontsize=10)
    _heatmap(axes[2], flipped, fmt=".3g")
    axes[2].set_title(f"convolution: weights flipped\nsum(x * weights[::-1, ::-1]) = {np.sum(patch * flipped):.3g}",
                      fontsize=10)
    return fig


def plot_weight_gradient_cells(height=5, width=5, k=2, s=2):
    """Which input cells meet weight (a, b), i.e. which terms make up dL/dweights[f, a, b].

    One panel per weight (a, b) of a k x k filter: the cells x[s p + a, s q + b] for every output
    position (p, q) are filled and labelled with the grad_output[p, q] they are multiplied by. The red
    dashed rectangle is the contiguous slice x[a : a + H_out, b : b + W_out] that is right only for s = 1.

    :returns: the Figure.
    """
    h_out, w_out = (height - k) // s + 1, (width - k) // s + 1
    fig = new_figure(2.6 * k + 0.4, 2.6 * k + 0.6)
    axes = fig.subplots(k, k, squeeze=False)
    fill = mcolors.to_rgba(sns.color_palette("deep")[0], 0.45)
    for a in range(k):
        for b in range(k):
            ax = axes[a, b]
            cells = {(s * p + a, s * q + b): f"g{p}{q}" for p in range(h_out) for q in range(w_out)}
            _cells(ax, height, width, colors={cell: fill for cell in cells}, labels=cells, fontsize=7)
            if s > 1:
                _outline(ax, a, b, min(h_out, height - a), min(w_out, width - b), color=HIGHLIGHT, style="--",
                         linewidth=1.8)
            ax.set_title(f"dL/dweights[f, {a}, {b}]", fontsize=9)
            _index_ticks(ax, height, width)
    title = (f"{height}x{width} input, k = {k}, s = {s}: weight (a, b) meets the cells x[s p + a, s q + b],\n"
             f"each times gpq = grad_output[n, f, p, q]")
    if s > 1:
        title += "\nred dashes: the slice x[a : a + H_out, b : b + W_out], wrong when s > 1"
    fig.suptitle(title, fontsize=8.5)
    return fig


def plot_feature_maps(image, filters, feature_maps):
    """An image, the filters, and what each filter makes of the image.

    :param image: (H, W) image, values in [0, 1] (0 = background).
    :param filters: dict name -> (k, k) filter, in the order of ``feature_maps``.
    :param feature_maps: (F, H_out, W_out) output of the convolution for this image.
    :returns: the Figure: the image on the left; top row the filters (numbers shown), bottom row their
              feature maps (red positive, blue negative, white zero).
    """
    names = list(filters)
    n_filters = len(names)
    fig = new_figure(1.9 * (n_filters + 1) + 0.4, 4.1)
    grid = fig.add_gridspec(2, n_filters + 1)
    ax_image = fig.add_subplot(grid[:, 0])
    ax_image.imshow(image, cmap="Greys", vmin=0, vmax=1)
    _clean(ax_image)
    ax_image.set_xticks([])
    ax_image.set_yticks([])
    ax_image.set_title(f"input {image.shape[0]}x{image.shape[1]}", fontsize=10)
    for column, name in enumerate(names, start=1):
        ax_filter = fig.add_subplot(grid[0, column])
        _heatmap(ax_filter, filters[name], fmt=".2g")
        ax_filter.set_title(name, fontsize=10)
        ax_map = fig.add_subplot(grid[1, column])
        feature_map = feature_maps[column - 1]
        limit = max(float(np.max(np.abs(feature_map))), 1e-12)
        ax_map.imshow(feature_map, cmap="vlag", vmin=-limit, vmax=limit)
        _clean(ax_map)
        ax_map.set_xticks([])
        ax_map.set_yticks([])
        ax_map.set_title(f"feature map {feature_map.shape[0]}x{feature_map.shape[1]}", fontsize=9)
    return fig


def _pool_windows(ax, height, width, k):
    """Thick window borders of a k x k pooling grid and hatching over the dropped border."""
    h_out, w_out = height // k, width // k
    for p in range(h_out):
        for q in range(w_out):
            _outline(ax, p * k, q * k, k, k, color=INK, linewidth=2)
    if w_out * k < width:
        _hatch(ax, 0, w_out * k, height, width - w_out * k)
    if h_out * k < height:
        _hatch(ax, h_out * k, 0, height - h_out * k, w_out * k)


def _maxima(x, window_max, k):
    """{(p, q): [(row, col), ...]}: the input cells of window (p, q) whose value is ``window_max[p, q]``, in row-major
    order (the first of them is the one max pooling picks). The maxima come from the data a figure is given (the
    pooled map, or where the gradient went), not computed here.

    :param x: (H, W) input map; window_max: (H // k, W // k), NaN where a window's maximum is unknown.
    """
    return {(p, q): [(p * k + a, q * k + b) for a, b in np.argwhere(x[p * k:(p + 1) * k, q * k:(q + 1) * k] == value)]
            for (p, q), value in np.ndenumerate(window_max)}


def plot_pooling(x, pooled, k):
    """Max pooling of one map: the windows and their maxima, then the pooled map.

    :param x: (H, W) input map, e.g. a feature map.
    :param pooled: (H // k, W // k) its max pooling.
    :param k: window size and stride.
    :returns: the Figure: x with the k x k windows drawn, each window's (first) maximum boxed and a
              border that fills no window hatched; the pooled map, same colour scale.
    """
    x, pooled = np.asarray(x, dtype=float), np.asarray(pooled, dtype=float)
    height, width = x.shape
    limit = max(float(np.max(np.abs(x))), 1e-12)
    fig = new_figure(8.0, 3.6)
    axes = fig.subplots(1, 2, gridspec_kw={"width_ratios": [width, max(pooled.shape[1], 1) + 0.5]})
    _heatmap(axes[0], x, vmin=-limit, vmax=limit, center=None, fmt=".2f", ticks=True)
    _pool_windows(axes[0], height, width, k)
    for cells in _maxima(x, pooled, k).values():
        for row, col in cells[:1]:
            _outline(axes[0], row, col, 1, 1, color=HIGHLIGHT, linewidth=2, zorder=6)
    dropped = ", hatched: dropped" if (height % k or width % k) else ""
    axes[0].set_title(f"input {height}x{width}, windows {k}x{k} (red: the maximum{dropped})", fontsize=10)
    _heatmap(axes[1], pooled, vmin=-limit, vmax=limit, center=None, fmt=".2f", ticks=True)
    axes[1].set_title(f"max pooled {pooled.shape[0]}x{pooled.shape[1]}", fontsize=10)
    return fig


def plot_pool_gradient_routing(x, grad_output, grad_x, k):
    """Where max pooling sends the gradient: each window's grad_output goes to one input cell.

    :param x: (H, W) input of the pooling layer.
    :param grad_output: (H // k, W // k) upstream gradient dL/dout.
    :param grad_x: (H, W) gradient dL/dx returned by the backward pass.
    :param k: window size and stride.
    :returns: the Figure: x with its windows (one colour per window) and maxima boxed, grad_output with
              the same colours, and grad_x with the cell that received each window's gradient boxed.
    """
    x, grad_output, grad_x = (np.asarray(a, dtype=float) for a in (x, grad_output, grad_x))
    height, width = x.shape
    h_out, w_out = grad_output.shape
    palette = sns.color_palette("pastel", h_out * w_out)
    window_color = {}
    for p in range(h_out):
        for q in range(w_out):
            for a in range(k):
                for b in range(k):
                    window_color[p * k + a, q * k + b] = palette[p * w_out + q]
    out_color = {(p, q): palette[p * w_out + q] for p in range(h_out) for q in range(w_out)}
    # Each window's maximum is the value of the cell its gradient went to (unknown where grad_output is 0).
    received = np.full((h_out, w_out), np.nan)
    for row, col in np.argwhere(grad_x[:h_out * k, :w_out * k] != 0):
        received[row // k, col // k] = x[row, col]
    maxima = _maxima(x, received, k)
    fig = new_figure(9.0, 3.4)
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [width, w_out + 0.4, width]})
    panels = [
        (axes[0], x, window_color, f"forward: x ({height}x{width}), maxima boxed"),
        (axes[1], grad_output, out_color, f"grad_output ({h_out}x{w_out})"),
        (axes[2], grad_x, window_color, "backward: dL/dx"),
    ]
    for ax, values, colors, title in panels:
        labels = {(i, j): f"{values[i, j]:.3g}" for i in range(values.shape[0]) for j in range(values.shape[1])}
        _cells(ax, values.shape[0], values.shape[1], colors=colors, labels=labels)
        _index_ticks(ax, *values.shape)
        ax.set_title(title, fontsize=10)
    for ax in (axes[0], axes[2]):
        _pool_windows(ax, height, width, k)
        for cells in maxima.values():
            for row, col in cells[:1]:
                _outline(ax, row, col, 1, 1, color=HIGHLIGHT, linewidth=2, zorder=6)
    for cells in maxima.values():
        for row, col in cells[1:]:  # tied maxima after the first
            _outline(axes[0], row, col, 1, 1, color=HIGHLIGHT, style=(0, (2, 2)), linewidth=1.5, zorder=6)
    fig.supxlabel("solid red: the first maximum of the window (row-major order), which gets the window's gradient;"
                  " dashed red: a tied maximum, which gets 0;\nhatched: the dropped border, which gets 0", fontsize=8)
    return fig


def plot_pooled_maps(feature_maps, pooled, names=None):
    """Feature maps above their max pooled versions.

    :param feature_maps: (F, H, W) maps.
    :param pooled: (F, H // k, W // k) their pooling.
    :param names: optional list of F titles.
    :returns: the Figure: one column per map, same colour scale within a column.
    """
    n_maps = feature_maps.shape[0]
    names = names or [f"map {f}" for f in range(n_maps)]
    fig = new_figure(2.0 * n_maps, 4.0)
    axes = fig.subplots(2, n_maps, squeeze=False)
    for f in range(n_maps):
        limit = max(float(np.max(np.abs(feature_maps[f]))), 1e-12)
        for row, values in enumerate((feature_maps[f], pooled[f])):
            ax = axes[row, f]
            ax.imshow(values, cmap="vlag", vmin=-limit, vmax=limit)
            _clean(ax)
            ax.set_xticks([])
            ax.set_yticks([])
            shape = f"{values.shape[0]}x{values.shape[1]}"
            ax.set_title(f"{names[f]}\n{shape}" if row == 0 else f"pooled {shape}", fontsize=9)
    return fig
