"""Why a layer's output is wrong, in one sentence: a known mistake by its signature, else how the output differs.

:func:`likely_cause` is the one place a wrong output gets its cause, for the visible checks, the hidden tests in
the grading kernel and the kit's verdict reasons alike. The known mistakes (:mod:`cnnkit.known_mistakes`) come
first; when none matches, the *structural* diagnosis compares the student's array with the expected one: a wrong
shape (with the output-size formula and the case's numbers in it), a constant factor or offset, swapped or
flipped axes, right for some images, filters or channels only, right except at a border, values shifted by whole
windows, or an output that is the input, all zeros or not finite. Its sentences name the likely line of code and
quote no expected value, only shapes, counts and factors, so that they can describe hidden cases too.

Kinds of output, with the shapes (see :mod:`cnnkit.checks`):

- ``"conv_forward"``: out (N, F, H_out, W_out), H_out = (H - k) // s + 1;
- ``"conv_backward"``: dL/dweights (F, k, k);
- ``"pool_forward"``: out (N, C, H // k, W // k);
- ``"pool_backward"``: dL/dx (N, C, H, W);
- notebook 04: ``"conv2d_forward"``: out (N, F, H_out, W_out), H_out = (H + 2P - k) // s + 1;
  ``"conv2d_backward_x"``: dL/dx (N, C, H, W); ``"conv2d_backward_weights"``: (F, C, k, k); ``"conv2d_backward_bias"``:
  (F,); ``"pool2d_forward"``: out (N, C, H_out, W_out), H_out = (H - k) // s + 1; ``"pool2d_backward"``: (N, C, H, W).
"""

import numpy as np

from cnnkit import known_mistakes

RTOL, ATOL = 1e-6, 1e-9  # "right" for a part of the output, as the checks compare
LINES = {  # the line of code an output comes from, in the notebooks' skeletons
    "conv_forward": 'cache["out"][:, :, out_row, out_col] = ...',
    "conv_backward": "grads += ...",
    "pool_forward": 'cache["out"][:, :, out_row, out_col] = ...',
    "pool_backward": "grads[...] = grad_output[:, :, out_row, out_col]",
    "conv2d_forward": "out[:, :, out_row, out_col] = ...",
    "conv2d_backward_x": "grad_x_padded[:, :, i:i + k, j:j + k] += ... (and the crop to grad_x)",
    "conv2d_backward_weights": "grad_weights += ...",
    "conv2d_backward_bias": "grad_bias = ...",
    "pool2d_forward": 'cache["out"][:, :, out_row, out_col] = ...',
    "pool2d_backward": "grads[...] += grad_output[:, :, out_row, out_col]",
}
AXES = {  # the names of the leading axes of each kind of output
    "conv_forward": ("image", "filter"), "conv_backward": ("filter",),
    "pool_forward": ("image", "channel"), "pool_backward": ("image", "channel"),
    "conv2d_forward": ("image", "filter"), "conv2d_backward_x": ("image", "channel"),
    "conv2d_backward_weights": ("filter", "channel"), "conv2d_backward_bias": ("filter",),
    "pool2d_forward": ("image", "channel"), "pool2d_backward": ("image", "channel"),
}
SHAPES = {  # each kind's shape, in the notation of the notebooks
    "conv_forward": "(N, F, H_out, W_out)", "conv_backward": "(F, k, k)", "pool_forward": "(N, C, H_out, W_out)",
    "pool_backward": "(N, C, H, W), the shape of x", "conv2d_forward": "(N, F, H_out, W_out)",
    "conv2d_backward_x": "(N, C, H, W), the shape of x", "conv2d_backward_weights": "(F, C, k, k), the shape of weights",
    "conv2d_backward_bias": "(F,), one value per filter", "pool2d_forward": "(N, C, H_out, W_out)",
    "pool2d_backward": "(N, C, H, W), the shape of x",
}
SQUEEZE = (".squeeze() drops every axis of size 1, here the batch or filter axis; index explicitly instead "
           "(e.g. x[:, 0] rather than x.squeeze()).")


def likely_cause(kind, actual, expected, case):
    """The likely cause of a wrong ``actual`` (any value) as one sentence, or None when nothing is recognised.

    :param kind: the kind of output, see the module docstring.
    :param expected: the expected array.
    :param case: the case dict: its inputs (``x``, ``weights`` and ``stride``, or ``k``) and the known mistakes'
        signatures (see :mod:`cnnkit.known_mistakes`).
    """
    if not isinstance(actual, np.ndarray) or not np.issubdtype(actual.dtype, np.number):
        return None
    if actual.shape != expected.shape:
        return _shape_cause(kind, actual.shape, expected.shape, case)
    return known_mistakes.diagnose(kind, actual, case) or _value_cause(kind, actual.astype(float), expected, case)


# ---- shapes ---------------------------------------------------------------------------------------------

def _k_and_stride(kind, case):
    if kind.startswith("conv"):
        return case["weights"].shape[-1], int(case["stride"])
    return int(case["k"]), int(case.get("stride", case["k"]))


def _padding(case):
    return int(case.get("padding", 0))


def squeeze_cause(shape, expected):
    """:data:`SQUEEZE` when ``shape`` is the ``expected`` shape without its axes of size 1, else None."""
    return SQUEEZE if shape == tuple(d for d in expected if d != 1) != tuple(expected) else None


def _shape_cause(kind, shape, expected, case):
    if squeeze_cause(shape, expected):
        return SQUEEZE
    if len(shape) == len(expected) and sorted(shape) == sorted(expected):
        return f"the axes are in another order than {SHAPES[kind]}: index the output as {LINES[kind]} does."
    if kind.endswith("forward") and len(shape) == 4 and shape[:2] == expected[:2]:
        return _size_cause(kind, shape[2:], case)
    if kind == "conv2d_backward_x" and len(shape) == 4 and shape[:2] == expected[:2]:
        p = _padding(case)
        if shape[2:] == (expected[2] + 2 * p, expected[3] + 2 * p):
            return "this is the gradient of the PADDED input: crop the padding off, grad_x_padded[:, :, P:P + H, " \
                "P:P + W]."
        if 0 in shape[2:]:
            return "the crop is empty: [P:-P] selects nothing when P = 0; crop with [P:P + H, P:P + W]."
    if kind == "conv2d_backward_bias":
        return "dL/dbias has one value per filter, shape (F,): the bias is added at every position of every image, " \
            "so sum grad_output over n, p and q (axis=(0, 2, 3))."
    return None


def _size_cause(kind, grid, case):
    """The output-size formula with the case's numbers, and how the student's (H_out, W_out) came about."""
    k, s = _k_and_stride(kind, case)
    h, w = case["x"].shape[2:]
    if kind == "conv2d_forward":
        p = _padding(case)
        unpadded = tuple((size - k) // s + 1 for size in (h, w))
        if p and tuple(grid) == tuple(size + 2 * p for size in unpadded):
            return "the zeros of the padding were added around the output; they go around the input, before the " \
                "windows slide over it (np.pad(x, ...))."
        if p and tuple(grid) == unpadded:
            return f"the padding is missing: pad x with P = {p} zeros on every side first (np.pad), then slide the " \
                "windows over the padded input."
        formula = [f"{name}_out = ({name} + 2P - k) // s + 1 = ({size} + {2 * p} - {k}) // {s} + 1 = "
                   f"{(size + 2 * p - k) // s + 1}" for name, size in (("H", h), ("W", w))]
        rounded_up = tuple(-(-(size + 2 * p - k) // s) + 1 for size in (h, w))
    elif kind in ("conv_forward", "pool2d_forward"):
        formula = [f"{name}_out = ({name} - k) // s + 1 = ({size} - {k}) // {s} + 1 = {(size - k) // s + 1}"
                   for name, size in (("H", h), ("W", w))]
        rounded_up = tuple(-(-(size - k) // s) + 1 for size in (h, w))
    else:
        formula = [f"{name}_out = {name} // k = {size} // {k} = {size // k}" for name, size in (("H", h), ("W", w))]
        rounded_up = tuple(-(-size // k) for size in (h, w))
    how = " (rounded up: a window that does not fit entirely is dropped, so divide with //)" \
        if tuple(grid) == rounded_up else ""
    return f"the output grid is {grid[0]} x {grid[1]}{how}; it must be {'; '.join(formula)}."


# ---- values ---------------------------------------------------------------------------------------------

def _close(a, b):
    return a.shape == b.shape and np.allclose(a, b, rtol=RTOL, atol=ATOL)


def _value_cause(kind, actual, expected, case):
    for cause in (_not_finite, _zeros, _the_input, _factor, _offset, _shifted, _axes, _some_slices, _border):
        found = cause(kind, actual, expected, case)
        if found:
            return found
    return None


def _not_finite(kind, actual, expected, case):
    bad = np.count_nonzero(~np.isfinite(actual))
    return f"{bad} of {actual.size} values are NaN or infinite: an array from np.empty that is never written, or a " \
        "division by zero." if bad else None


def _zeros(kind, actual, expected, case):
    if np.any(actual) or not np.any(expected):
        return None
    return f"every value is 0: nothing was written into the array returned; check that {LINES[kind]} runs (inside " \
        "the loop) and writes into that array."


def _the_input(kind, actual, expected, case):
    x = case["x"]
    return "this is the input x unchanged: the method returns (or copies) its input instead of computing the " \
        "output." if _close(actual, x) else None


def _factor_names(kind, case):
    """{factor: [what it is, ...]} for the factors a student's code plausibly multiplies by: N, k, k^2, the stride."""
    k, s = _k_and_stride(kind, case)
    named = [(case["x"].shape[0], "N, the batch size"), (k * k, "k^2"), (k, "k")]
    named += [(s, "s, the stride")] if kind.startswith("conv") or kind.startswith("pool2d") else []
    if kind.startswith("conv2d"):
        named += [(case["x"].shape[1], "C, the number of input channels")]
        named += [(int(np.prod(case["grad_output"].shape[2:])), "H_out * W_out, the number of output positions")] \
            if "grad_output" in case else []
    names = {}
    for value, name in named:
        if value != 1:
            names.setdefault(value, []).append(name)
    return names


def _factor(kind, actual, expected, case):
    scale = float(np.vdot(actual, expected) / np.vdot(expected, expected))
    if not np.any(expected) or np.isclose(scale, 1.0) or not _close(actual, scale * expected):
        return None
    named = ["-1 (a sign is wrong)"] if np.isclose(scale, -1.0) else []
    for value, names in _factor_names(kind, case).items():
        if np.isclose(scale, value):
            named.append(f"{value} (multiplied by {'; or by '.join(names)})")
        elif np.isclose(scale, 1 / value):
            named.append(f"1/{value} (divided by {'; or by '.join(names)})")
    what = f"a factor of {named[0]}" if named else "a constant factor"
    return f"every value is {scale:.4g} times the expected one, {what}: look for a scaling in {LINES[kind]}."


def _offset(kind, actual, expected, case):
    shift = float(np.mean(actual - expected))
    if np.isclose(shift, 0.0, atol=ATOL) or not _close(actual, expected + shift):
        return None
    return f"every value is off by the same amount, {shift:+.4g}: look for a constant added in {LINES[kind]}."


def _axes(kind, actual, expected, case):
    candidates = [("upside down (rows reversed)", expected[..., ::-1, :]),
                  ("mirrored left to right (columns reversed)", expected[..., :, ::-1])]
    if expected.shape[-1] == expected.shape[-2]:
        candidates.append(("transposed: rows and columns swapped", np.swapaxes(expected, -1, -2)))
    if expected.ndim == 4 and expected.shape[0] == expected.shape[1]:
        first, second = AXES[kind]
        candidates.append((f"with its {first} and {second} axes swapped", np.swapaxes(expected, 0, 1)))
    for description, candidate in candidates:
        if _close(actual, candidate):
            return f"this is the expected output {description}: check the order of the indices in {LINES[kind]} " \
                "(and in the views)."
    return None


def _listed(indices):
    return ", ".join(map(str, indices[:6])) + (", ..." if len(indices) > 6 else "")


def _some_slices(kind, actual, expected, case):
    """Right for some images, filters or channels, and wrong all over the others (a quarter of their values wrong,
    or more than 10% relative error), not in a few places."""
    close = np.isclose(actual, expected, rtol=RTOL, atol=ATOL)
    for axis, name in enumerate(AXES[kind]):
        others = tuple(a for a in range(actual.ndim) if a != axis)
        right = np.all(close, axis=others)
        error = np.sqrt(np.sum((actual - expected) ** 2, axis=others) / np.maximum(np.sum(expected ** 2, axis=others),
                                                                                   1e-300))
        far_off = (np.mean(~close, axis=others) >= 0.25) | (error > 0.1)
        if right.any() and not right.all() and np.all(right | far_off):
            good, bad = np.flatnonzero(right).tolist(), np.flatnonzero(~right).tolist()
            hint = {"image": "compute every image of the batch at once (slice x[:, ...], not x[0])",
                    "filter": "every filter takes part (weights (F, k, k) broadcast against the view)",
                    "channel": "the maximum is taken per image and per channel (the view is (N, C, k, k))"}[name] \
                if not kind.startswith("conv2d") else {
                    "image": "compute every image of the batch at once (keep the batch axis of view and grad_output)",
                    "filter": "every filter takes part: weights (F, C, k, k) against view[:, None] (N, 1, C, k, k)",
                    "channel": "every input channel takes part: sum over c as well as over a and b"}[name]
            return f"right for {name} {_listed(good)} and wrong for {name} {_listed(bad)} (axis {axis}): {hint}."
    return None


def _border(kind, actual, expected, case):
    if actual.ndim != 4 or not (kind.endswith("forward") or kind in ("pool_backward", "pool2d_backward")):
        return None
    wrong = ~np.all(np.isclose(actual, expected, rtol=RTOL, atol=ATOL), axis=(0, 1))
    if not wrong.any():
        return None
    rows, cols = np.flatnonzero(wrong.any(axis=1)).tolist(), np.flatnonzero(wrong.any(axis=0)).tolist()
    height, width = wrong.shape
    if kind in ("pool_backward", "pool2d_backward"):
        k, s = _k_and_stride(kind, case)
        covered_rows, covered_cols = ((height - k) // s) * s + k, ((width - k) // s) * s + k
        if min(rows) >= covered_rows or min(cols) >= covered_cols:
            return "right except in the border that no window covers: those elements of x take no part in the " \
                "output, so their gradient is 0."
        return None
    for where, lines, size, whole in (("row", rows, height, wrong[rows].all()), ("column", cols, width,
                                                                                wrong[:, cols].all())):
        if not whole:  # only lines wrong all along them make a border
            continue
        if min(lines) > 0 and len(lines) == size - min(lines):
            count = size - min(lines)
            return f"right except the last {count} {where}{'s' * (count != 1)} of the output grid: the loops " \
                f"stop too early (the corners go up to H - k and W - k: range(0, H - k + 1, s))."
        if max(lines) < size - 1 and len(lines) == max(lines) + 1:
            return f"right except the first {max(lines) + 1} {where}{'s' * (max(lines) != 0)} of the output grid: " \
                "check where the loops start and the output index of the first windows."
    return None


def _shifted(kind, actual, expected, case):
    if actual.ndim != 4:
        return None
    step = int(case["k"]) if kind == "pool_backward" else 1
    for axis, directions in ((2, ("down", "up")), (3, ("right", "left"))):
        size = actual.shape[axis]
        if size <= step:
            continue
        later, earlier = [slice(None)] * 4, [slice(None)] * 4
        later[axis], earlier[axis] = slice(step, None), slice(None, size - step)
        found = [direction for direction, a, e in zip(directions, (later, earlier), (earlier, later))
                 if _close(actual[tuple(a)], expected[tuple(e)])]
        if found:
            where = found[0] if len(found) == 1 else f"along the {'rows' if axis == 2 else 'columns'}"
            return f"the values are shifted by one window {where}: the output index is off by one in " \
                f"{LINES[kind]} (or in the views)."
    return None
