"""Figures for notebook 4, layers that stack: channels, zero padding, the gradient with respect to the input,
overlapping max pooling, im2col and speed.

As in :mod:`cnnkit.plots` (whose helpers and colours this module reuses), every function takes plain arrays or
small ints, builds a new :class:`matplotlib.figure.Figure`, closes it in pyplot and returns it. Nothing here
computes a convolution, a pooling or a gradient: every number a figure shows is passed in by the caller; only
the geometry (where the windows go, how many cover a cell) is worked out here. Notation: NCHW arrays, k filter
size, s stride, p padding, H_out = (H + 2p - k) // s + 1; (i, j) input positions, (p, q) output positions,
(a, b) positions inside a filter.
"""

import numpy as np

from cnnkit.plots import (HIGHLIGHT, INK, MISSED, _cells, _hatch, _heatmap, _index_ticks, _outline, mcolors,
                          new_figure, patches, sns)


def _out_size(size, k, s, p=0):
    return (size + 2 * p - k) // s + 1


def _grid(ax, n_rows, n_cols, **options):
    """:func:`cnnkit.plots._cells` with a thin margin, so that the outer grid lines are drawn whole."""
    _cells(ax, n_rows, n_cols, **options)
    ax.set_xlim(-0.08, n_cols + 0.08)
    ax.set_ylim(n_rows + 0.08, -0.08)


def _coverage(height, width, k, s):
    """(height, width) counts: how many k x k windows, placed every s cells, cover each cell (geometry only)."""
    counts = np.zeros((height, width), dtype=int)
    for p in range(max(_out_size(height, k, s), 0)):
        for q in range(max(_out_size(width, k, s), 0)):
            counts[s * p:s * p + k, s * q:s * q + k] += 1
    return counts


def _zero_ring(ax, rows, cols, pad):
    """Hatch the ``pad`` outer rows and columns of a rows x cols grid and write 0 in each of their cells."""
    if pad <= 0:
        return
    for row, col, height, width in ((0, 0, pad, cols), (rows - pad, 0, pad, cols),
                                    (pad, 0, rows - 2 * pad, pad), (pad, cols - pad, rows - 2 * pad, pad)):
        _hatch(ax, row, col, height, width)
    for i in range(rows):
        for j in range(cols):
            if min(i, j) < pad or i >= rows - pad or j >= cols - pad:
                ax.text(j + 0.5, i + 0.5, "0", ha="center", va="center", fontsize=8, color="#555555", zorder=6)


def _window_colors(n, alpha=None):
    """n distinct colours, one per window (p, q) in row-major order; with ``alpha``, as translucent fills."""
    palette = sns.color_palette("husl", n)
    return [mcolors.to_rgba(color, alpha) if alpha is not None else color for color in palette]


def _window_outlines(ax, anchors, k, colors):
    """Outline overlapping k x k windows (top-left corners ``anchors``), each inset a little differently so
    that shared rows and columns show both borders."""
    step = min(0.1, 0.35 / k)
    for (row, col), color in zip(anchors, colors):
        inset = 0.05 + step * ((row + col) % k)
        _outline(ax, row + inset, col + inset, k - 2 * inset, k - 2 * inset, color=color, linewidth=2)


def _shades(counts, top):
    """{(i, j): colour}: a blue as dark as the count (of windows covering the cell); grey for 0."""
    cmap = sns.color_palette("Blues", as_cmap=True)
    return {(i, j): cmap(0.1 + 0.45 * n / max(top, 1)) if n else MISSED for (i, j), n in np.ndenumerate(counts)}


def _size_formula(size, k, s, p):
    padded = f"{size} + {2 * p} - {k}" if p else f"{size} - {k}"
    return f"({padded})//{s} + 1 = {_out_size(size, k, s, p)}"


def plot_padding(height=5, width=5, k=3, padding=1, stride=1):
    """Why zero padding: how often each input cell is used, without and with ``padding`` zeros around it.

    Left the H x W input (``height`` x ``width``), right the same input inside a border of ``padding`` zero
    rows and columns (hatched, 0). Each input cell holds the number of k x k windows (every ``stride`` cells)
    that cover it; the titles give the output size, one window is outlined in red.

    :returns: the Figure.
    """
    padded_rows, padded_cols = height + 2 * padding, width + 2 * padding
    plain = _coverage(height, width, k, stride)
    padded = _coverage(padded_rows, padded_cols, k, stride)
    inner = padded[padding:padding + height, padding:padding + width]
    top = max(int(plain.max()), int(inner.max()))
    fig = new_figure(0.45 * 2 * padded_cols + 2.0, 0.45 * padded_rows + 2.0)
    ax_plain, ax_padded = fig.subplots(1, 2)
    centre = (height // 2, width // 2)

    _grid(ax_plain, height, width, colors=_shades(plain, top),
           labels={cell: str(n) for cell, n in np.ndenumerate(plain)})
    _index_ticks(ax_plain, height, width, row_label="input row i", col_label="input column j")
    if plain.any():
        _outline(ax_plain, 0, 0, k, k, color=HIGHLIGHT)
    title = f"no padding: H_out = {_size_formula(height, k, stride, 0)}"
    if width != height:
        title += f"\nW_out = {_size_formula(width, k, stride, 0)}"
    ax_plain.set_title(title, fontsize=10, loc="left")
    ax_plain.set_xlim(-padding, width + padding)  # same cell size as the padded panel, centred
    ax_plain.set_ylim(height + padding, -padding)
    unused = "; grey: no window uses it" if (plain == 0).any() else ""
    ax_plain.text(0, height + padding + 0.3, f"corner used {plain[0, 0]}x, centre used {plain[centre]}x{unused}",
                  ha="left", va="top", fontsize=8)

    shades = _shades(inner, top)
    _grid(ax_padded, padded_rows, padded_cols,
           colors={(i + padding, j + padding): shade for (i, j), shade in shades.items()},
           labels={(i + padding, j + padding): str(n) for (i, j), n in np.ndenumerate(inner)})
    _zero_ring(ax_padded, padded_rows, padded_cols, padding)
    _index_ticks(ax_padded, padded_rows, padded_cols, row_label="input row i", col_label="input column j")
    ax_padded.set_xticks(np.arange(padded_cols) + 0.5, [str(j - padding) for j in range(padded_cols)])
    ax_padded.set_yticks(np.arange(padded_rows) + 0.5, [str(i - padding) for i in range(padded_rows)])
    if padded.any():
        _outline(ax_padded, 0, 0, k, k, color=HIGHLIGHT)
    title = f"padding {padding}: H_out = {_size_formula(height, k, stride, padding)}"
    if width != height:
        title += f"\nW_out = {_size_formula(width, k, stride, padding)}"
    ax_padded.set_title(title, fontsize=10, loc="left")
    ax_padded.text(0, padded_rows + 0.3,
                   f"corner used {inner[0, 0]}x, centre used {inner[centre]}x;\nhatched: the zeros added",
                   ha="left", va="top", fontsize=8)
    fig.suptitle(f"number in each input cell: how many {k}x{k} windows (stride {stride}) use it; "
                 f"red: one window", fontsize=9)
    return fig


def _value_colors(values, alpha=0.8):
    """{(i, j): colour} on the red (positive) / blue (negative) scale, centred on 0."""
    cmap = sns.color_palette("vlag", as_cmap=True)
    limit = max(float(np.max(np.abs(values))), 1e-12)
    return {(i, j): mcolors.to_rgba(cmap(0.5 + 0.5 * v / limit), alpha) for (i, j), v in np.ndenumerate(values)}


def plot_input_gradient(grad_output, weights, grad_x, cell=None):
    """dL/dx as a full cross-correlation of grad_output with the flipped filter (stride 1, no padding, one
    channel, one filter).

    :param grad_output: (H_out, W_out) upstream gradient g = dL/dout.
    :param weights: (k, k) filter w.
    :param grad_x: (H, W) dL/dx from the backward pass, H = H_out + k - 1.
    :param cell: (i, j) of the input cell whose window is shown; default (1, 1).
    :returns: the Figure: g padded with k - 1 zeros on every side, one k x k window outlined; the filter
              flipped (each cell noting which weight it holds); grad_x with the cell that window gives outlined.
    """
    grad_output, weights, grad_x = (np.asarray(a, dtype=float) for a in (grad_output, weights, grad_x))
    h_out, w_out = grad_output.shape
    k = weights.shape[0]
    height, width = grad_x.shape
    rows, cols = h_out + 2 * (k - 1), w_out + 2 * (k - 1)
    i, j = cell if cell is not None else (min(1, height - 1), min(1, width - 1))
    fig = new_figure(0.42 * (cols + k + width) + 3.0, 0.42 * rows + 2.2)
    ax_g, ax_w, ax_x = fig.subplots(1, 3, gridspec_kw={"width_ratios": [cols, k + 0.6, width]})

    colors = _value_colors(grad_output)
    _grid(ax_g, rows, cols, colors={(p + k - 1, q + k - 1): c for (p, q), c in colors.items()},
           labels={(p + k - 1, q + k - 1): f"{v:.3g}" for (p, q), v in np.ndenumerate(grad_output)})
    _zero_ring(ax_g, rows, cols, k - 1)
    _index_ticks(ax_g, rows, cols)
    _outline(ax_g, i, j, k, k, color=HIGHLIGHT)
    ax_g.set_title(f"g_padded: grad_output ({h_out}x{w_out})\nwith k - 1 = {k - 1} zeros on every side,"
                   f" red: rows {i}..{i + k - 1}, columns {j}..{j + k - 1}", fontsize=9, loc="left")

    flipped = weights[::-1, ::-1]
    _grid(ax_w, k, k, colors=_value_colors(flipped, alpha=0.6))
    for (a, b), value in np.ndenumerate(flipped):
        ax_w.text(b + 0.5, a + 0.4, f"{value:.3g}", ha="center", va="center", fontsize=8, color=INK)
        ax_w.text(b + 0.5, a + 0.78, f"w[{k - 1 - a},{k - 1 - b}]", ha="center", va="center", fontsize=6,
                  color="#555555")
    _index_ticks(ax_w, k, k)
    ax_w.set_title("the filter flipped:\nw[::-1, ::-1]\n(small: which weight)", fontsize=9)

    _heatmap(ax_x, grad_x, fmt=".3g", ticks=True)
    _outline(ax_x, i, j, 1, 1, color=HIGHLIGHT)
    ax_x.set_title(f"dx = dL/dx ({height}x{width})\nred: dx[{i}, {j}] = {grad_x[i, j]:.3g}", fontsize=9, loc="left")

    for start, start_ax, end, end_ax in (((j + k, i + k / 2), ax_g, (0, k / 2), ax_w),
                                         ((k, k / 2), ax_w, (j, i + 0.5), ax_x)):
        fig.add_artist(patches.ConnectionPatch(xyA=start, coordsA=start_ax.transData, xyB=end,
                                               coordsB=end_ax.transData, arrowstyle="-|>", color=HIGHLIGHT,
                                               linewidth=1.2, mutation_scale=12))
    fig.suptitle("full cross-correlation with the flipped filter: multiply the red window by the flipped filter"
                 " cell by cell and add up\ndx[i, j] = sum over a, b of g_padded[i + a, j + b] * w[k-1-a, k-1-b]",
                 fontsize=9)
    return fig


def plot_input_gradient_scatter(grad_output, weights, grad_x):
    """dL/dx as a scatter: each grad_output[p, q] times the filter is added into the window at (p, q) of dx
    (stride 1, no padding, one channel, one filter).

    :param grad_output: (H_out, W_out) upstream gradient g. :param weights: (k, k) filter w.
    :param grad_x: (H, W) dL/dx from the backward pass.
    :returns: the Figure: one small H x W panel per output position (p, q), its window filled and each cell
              naming the weight w[a, b] that g[p, q] multiplies there; then grad_x, each cell shaded by how
              many windows add into it (the small number).
    """
    grad_output, grad_x = np.asarray(grad_output, dtype=float), np.asarray(grad_x, dtype=float)
    h_out, w_out = grad_output.shape
    k = np.asarray(weights).shape[0]
    height, width = grad_x.shape
    fills = _window_colors(h_out * w_out, alpha=0.5)
    fig = new_figure(w_out * (0.3 * width + 0.3) + 0.55 * width + 1.0,
                     max(h_out * (0.3 * height + 0.55), 0.55 * height + 1.4) + 0.6)
    grid = fig.add_gridspec(h_out, w_out + 1, width_ratios=[1] * w_out + [1.4 * w_out])
    for (p, q), value in np.ndenumerate(grad_output):
        ax = fig.add_subplot(grid[p, q])
        window = {(p + a, q + b): f"w{a}{b}" for a in range(k) for b in range(k)}
        _grid(ax, height, width, colors=dict.fromkeys(window, fills[p * w_out + q]), labels=window, fontsize=6)
        _outline(ax, p, q, k, k, color=INK, linewidth=1.5)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"+ g[{p},{q}] * w\n(g[{p},{q}] = {value:.3g})", fontsize=7)

    counts = _coverage(height, width, k, 1)
    ax_x = fig.add_subplot(grid[:, w_out])
    _grid(ax_x, height, width, colors=_shades(counts, counts.max()),
           labels={cell: f"{v:.3g}" for cell, v in np.ndenumerate(grad_x)})
    for (i, j), n in np.ndenumerate(counts):
        ax_x.text(j + 0.93, i + 0.9, str(n), ha="right", va="bottom", fontsize=6, color="#555555")
    _index_ticks(ax_x, height, width)
    ax_x.set_title(f"dx = dL/dx ({height}x{width}): all the panels added\n"
                   "small number: how many windows add into the cell", fontsize=9)
    fig.suptitle("scatter view: each g[p, q] times the filter is added into the window at (p, q) of dx;"
                 "\nwhere windows overlap, their contributions add up", fontsize=9)
    return fig


def _first_maxima(x, pooled, k, s):
    """{(i, j): [(p, q), ...]}: the windows whose first maximum (row-major) is cell (i, j). The maxima are the
    cells holding the caller's pooled values, not computed here.

    :param x: (H, W) input. :param pooled: (H_out, W_out) its max pooling, given by the caller.
    """
    owners = {}
    for (p, q), value in np.ndenumerate(pooled):
        hits = np.argwhere(x[s * p:s * p + k, s * q:s * q + k] == value)
        if len(hits):
            a, b = hits[0]
            owners.setdefault((s * p + a, s * q + b), []).append((p, q))
    return owners


def _stripes(ax, owners, colors, w_out):
    """Fill each cell with one vertical stripe per window that owns it, in the windows' colours."""
    for (i, j), windows in owners.items():
        for n, (p, q) in enumerate(windows):
            ax.add_patch(patches.Rectangle((j + n / len(windows), i), 1 / len(windows), 1, linewidth=0,
                                           facecolor=colors[p * w_out + q], zorder=2))


def plot_overlapping_pooling(x, grad_output, grad_x, k=3, stride=2, pooled=None, shared=None):
    """Max pooling with windows that overlap (k > stride), forward and backward.

    :param x: (H, W) input map.
    :param grad_output: (H_out, W_out) upstream gradient, H_out = (H - k) // stride + 1.
    :param grad_x: (H, W) dL/dx from the backward pass.
    :param pooled: optional (H_out, W_out) max pooling of x, from the caller; when given, each window's first
        maximum is filled with the window's colour (split in stripes when it is the maximum of several windows).
    :param shared: optional (H, W) boolean mask of the cells that received gradient from more than one
        window, outlined in red; by default the cells that ``pooled`` shows as the maximum of several windows.
    :returns: the Figure: x with every window outlined in its own colour; grad_output in the same colours;
              grad_x, where a shared cell holds the sum of its windows' gradients.
    """
    x, grad_output, grad_x = (np.asarray(a, dtype=float) for a in (x, grad_output, grad_x))
    height, width = x.shape
    h_out, w_out = grad_output.shape
    lines = _window_colors(h_out * w_out)
    fills = _window_colors(h_out * w_out, alpha=0.55)
    owners = _first_maxima(x, np.asarray(pooled, dtype=float), k, stride) if pooled is not None else {}
    if shared is None:
        shared = np.zeros((height, width), dtype=bool)
        for cell, windows in owners.items():
            shared[cell] = len(windows) > 1
    shared = np.asarray(shared, dtype=bool)
    in_two = _coverage(height, width, k, stride) > 1
    grey = {(i, j): mcolors.to_rgba(MISSED, 0.35) for i, j in np.argwhere(in_two)}
    anchors = [(stride * p, stride * q) for p in range(h_out) for q in range(w_out)]

    fig = new_figure(0.5 * (2 * width + w_out) + 2.5, 0.5 * height + 2.2)
    ax_x, ax_g, ax_dx = fig.subplots(1, 3, gridspec_kw={"width_ratios": [width, w_out + 0.5, width]})
    for ax, values in ((ax_x, x), (ax_dx, grad_x)):
        _grid(ax, height, width, colors=grey, labels={cell: f"{v:.3g}" for cell, v in np.ndenumerate(values)})
        _stripes(ax, owners, fills, w_out)
        _index_ticks(ax, height, width)
    _window_outlines(ax_x, anchors, k, lines)
    marked = "; filled: each window's maximum" if owners else ""
    ax_x.set_title(f"forward: x ({height}x{width}), {k}x{k} windows, stride {stride}\n"
                   f"grey: cells in two windows{marked}", fontsize=9, loc="left")

    _grid(ax_g, h_out, w_out, colors={(p, q): fills[p * w_out + q] for p in range(h_out) for q in range(w_out)},
           labels={cell: f"{v:.3g}" for cell, v in np.ndenumerate(grad_output)})
    _index_ticks(ax_g, h_out, w_out)
    ax_g.set_title(f"grad_output\n({h_out}x{w_out})", fontsize=9)

    for i, j in np.argwhere(shared):
        _outline(ax_dx, i, j, 1, 1, color=HIGHLIGHT, zorder=6)
    ax_dx.set_title("backward: dL/dx\nred: gradient from two windows, added", fontsize=9, loc="left")
    fig.supxlabel("each window sends its grad_output to its first maximum; where windows overlap, one cell can be "
                  "the maximum of two windows\n(striped: both colours) and then receives the SUM of their "
                  "gradients", fontsize=8)
    return fig


def plot_im2col(x, columns, k=2, stride=1, n_filters=2):
    """im2col: every window becomes one row of a matrix, so one matrix product does all windows and filters.

    :param x: (C, H, W) one small input (a 2D (H, W) array is taken as one channel).
    :param columns: (H_out W_out, C k k), the im2col matrix of x (computed by the caller): row (p, q) holds window
        (p, q), column (c, a, b) holds x[c, s p + a, s q + b].
    :returns: the Figure: the C channels with the windows outlined, one colour per window; the columns matrix;
              the weights (C k k, F) as a labelled grid, one column per filter.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 2:
        x = x[None]
    channels, height, width = x.shape
    h_out, w_out = _out_size(height, k, stride), _out_size(width, k, stride)
    n_rows, n_cols = h_out * w_out, channels * k * k
    if np.shape(columns) != (n_rows, n_cols):
        raise ValueError(f"columns has shape {np.shape(columns)}, expected ({n_rows}, {n_cols})")
    lines = _window_colors(n_rows)
    fills = _window_colors(n_rows, alpha=0.4)
    anchors = [(stride * p, stride * q) for p in range(h_out) for q in range(w_out)]
    column_names = [f"{c},{a},{b}" for c in range(channels) for a in range(k) for b in range(k)]

    fig = new_figure(0.42 * (width + n_cols + n_filters) + 3.2,
                     0.42 * max(channels * (height + 1.5), n_rows + 3, n_cols + 2) + 1.0)
    grid = fig.add_gridspec(channels, 3, width_ratios=[width + 0.5, n_cols, n_filters + 1])
    for c in range(channels):
        ax = fig.add_subplot(grid[c, 0])
        _grid(ax, height, width, labels={cell: f"{v:.3g}" for cell, v in np.ndenumerate(x[c])})
        _window_outlines(ax, anchors, k, lines)
        _index_ticks(ax, height, width)
        ax.set_title(f"channel c = {c}", fontsize=9)

    ax_cols = fig.add_subplot(grid[:, 1])
    values = {cell: f"{value:.3g}" for cell, value in np.ndenumerate(np.asarray(columns))}
    _grid(ax_cols, n_rows, n_cols, colors={cell: fills[cell[0]] for cell in values}, labels=values)
    _index_ticks(ax_cols, n_rows, n_cols, row_label="window p,q", col_label="c,a,b")
    ax_cols.set_xticks(np.arange(n_cols) + 0.5, column_names, rotation=90)
    ax_cols.set_yticks(np.arange(n_rows) + 0.5, [f"{p},{q}" for p, q in np.ndindex(h_out, w_out)])
    for c in range(1, channels):
        ax_cols.plot([c * k * k] * 2, [0, n_rows], color=INK, linewidth=1.8)
    ax_cols.set_title(f"columns ({n_rows}, {n_cols}): one row per window (p, q),\n"
                      f"one column per (c, a, b)", fontsize=9)

    ax_w = fig.add_subplot(grid[:, 2])
    _grid(ax_w, n_cols, n_filters)
    _index_ticks(ax_w, n_cols, n_filters, row_label="c,a,b")
    ax_w.set_xticks(np.arange(n_filters) + 0.5, [f"filter {f}" for f in range(n_filters)], rotation=90)
    ax_w.set_yticks(np.arange(n_cols) + 0.5, column_names)
    ax_w.set_title(f"@ weights\n({n_cols}, {n_filters})", fontsize=9)

    fig.suptitle(f"im2col, {channels} channels, k = {k}, stride {stride}: every window becomes a row, so one "
                 f"matrix product does all windows and filters\nout (H_out W_out, F) = columns @ weights:  "
                 f"({n_rows}, {n_filters}) = ({n_rows}, {n_cols}) @ ({n_cols}, {n_filters})", fontsize=9)
    return fig


def plot_speed(seconds):
    """Time of one implementation against another, as bars on a log scale.

    :param seconds: dict label -> seconds (float), or None for an implementation that is not installed; drawn
        top to bottom in the dict's order, each bar annotated with its time in ms and its ratio to the fastest.
    :returns: the Figure.
    """
    labels = list(seconds)
    times = [seconds[label] for label in labels]
    known = [t for t in times if t is not None]
    fastest = min(known) if known else 1e-3
    slowest = max(known) if known else 1e-3
    left = fastest / 3
    fig = new_figure(8.0, 0.5 * len(labels) + 1.4)
    ax = fig.subplots()
    ax.set_xscale("log")
    palette = sns.color_palette("deep", len(labels))
    for row, (t, color) in enumerate(zip(times, palette)):
        if t is None:
            ax.text(left * 1.2, row, "not installed", ha="left", va="center", fontsize=9, color="#777777",
                    style="italic")
            continue
        ax.barh(row, t - left, left=left, color=color, height=0.6)
        ratio = t / fastest
        note = "fastest" if ratio == 1 else f"{ratio:.3g}x the fastest"
        ms = f"{1000 * t:.0f}" if t >= 0.1 else f"{1000 * t:.3g}"
        ax.text(t * 1.15, row, f"{ms} ms ({note})", ha="left", va="center", fontsize=9, color=INK)
    ax.set_yticks(range(len(labels)), labels)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlim(left, slowest * 40)
    ax.set_xlabel("seconds (log scale)")
    ax.set_title("time per call (shorter is faster)", fontsize=10)
    return fig


def plot_network_comparison(histories):
    """Networks trained side by side: validation accuracy and training loss per epoch.

    :param histories: dict name -> list of per-epoch dicts (epoch, train_loss, train_accuracy, val_loss,
        val_accuracy), the history :func:`cnnkit.network.train` returns.
    :returns: the Figure, one line per network in each panel.
    """
    fig = new_figure(10, 3.6)
    ax_acc, ax_loss = fig.subplots(1, 2)
    palette = sns.color_palette("deep", max(len(histories), 1))
    for (name, history), color in zip(histories.items(), palette):
        if not history:
            continue
        epochs = [h["epoch"] for h in history]
        ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], "o-", ms=3, color=color, label=name)
        ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", ms=3, color=color, label=name)
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="training loss (running mean over the epoch)",
                yscale="log")
    for ax in (ax_acc, ax_loss):
        ax.locator_params(axis="x", integer=True)
        if ax.get_lines():
            ax.legend(fontsize=8)
    return fig
