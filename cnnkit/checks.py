"""The checks that the notebooks' test cells run on the student's layer classes.

Each public check takes the student's CLASS, runs a few cases (small hand-checkable ones, then random
ones from fixed seeds), prints one line when all pass, and otherwise raises :class:`CheckFailed`
saying what is wrong (type, shape, dtype or values), in which configuration, where, and the likely
cause. A ``NotImplementedError`` from a stub propagates unchanged.

The cases, with their expected outputs and the outputs of typical mistakes, are data computed when the
course is released (``visible_cases.npz`` beside this file, see :mod:`cnnkit.casefile`): nothing here
computes what a layer should return. :func:`run_case` checks one case; the public checks are loops over
the visible cases, and the grading kernel runs other cases through it the same way.
"""

import inspect
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np

from cnnkit import casefile, position_loops, tracebacks
from cnnkit.diagnosis import SQUEEZE, likely_cause, squeeze_cause
from cnnkit.gradcheck import numerical_gradient

RTOL, ATOL = 1e-6, 1e-9  # against the expected outputs: only floating-point rounding is allowed
NUMERICAL_RTOL, NUMERICAL_ATOL = 1e-4, 1e-6  # against central differences
VIEWS = "_get_filtersizeXfiltersize_views"
VISIBLE_CASES = Path(__file__).with_name("visible_cases.npz")

TIE_RULE = ("Rule for ties: when several elements of a window share its maximum, the whole gradient goes to the "
            "FIRST of them in row-major order (as in PyTorch; np.argmax of the flattened window finds it) and zero "
            "to the others. Sending it to every tied maximum is not a valid (sub)gradient: raising every element "
            "of a window by t raises its maximum by exactly t, so the gradients inside a window must add up to "
            "grad_output, not to a multiple of it.")


_HIDE_EXPECTED = ContextVar("hide_expected", default=False)
_NOTES = ContextVar("notes", default=None)  # {note: [configuration, ...]} while a check's cases run


@contextmanager
def expected_values_hidden():
    """Within this block, failure messages give the student's value and the size of the error, but never the
    expected value (for hidden test cases)."""
    token = _HIDE_EXPECTED.set(True)
    try:
        yield
    finally:
        _HIDE_EXPECTED.reset(token)


@contextmanager
def notes_once(count):
    """Within this block (the ``count`` cases of one check), a note that several cases make is printed once at the
    end, with the number of cases and the first configuration, not once per case."""
    token = _NOTES.set({})
    try:
        yield
    finally:
        notes = _NOTES.get()
        _NOTES.reset(token)
        for note, configs in notes.items():
            cases = "every case" if len(configs) == count else f"{len(configs)} of {count} cases"
            print(f"Note ({cases}; the first: {configs[0]}): {note}")


def _note(config, note):
    """Print a note about one case, or keep it for :func:`notes_once`."""
    notes = _NOTES.get()
    if notes is None:
        print(f"Note ({config}): {note}")
    else:
        notes.setdefault(note, []).append(config)


class CheckFailed(AssertionError):
    """A check found a problem in the student's layer; the message says what, where and the likely cause."""


tracebacks.install()  # in JupyterLab, a failing check shows its message first, without the kit's frames


# ---- messages ----------------------------------------------------------------------------------------

def _plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def describe_conv(x_shape, k, stride, n_filters, label):
    """E.g. "stride 2, batch 1, 1 filter, 5x7 input, 3x3 filter (random case, seed 4)"; n_filters None: not said."""
    n, _, h, w = x_shape
    filters = "" if n_filters is None else f"{_plural(n_filters, 'filter')}, "
    return f"stride {stride}, batch {n}, {filters}{h}x{w} input, {k}x{k} filter ({label})"


def describe_pool(x_shape, k, label):
    """E.g. "2x2 window, batch 2, 3 channels, 5x7 input (hand-checkable case)"."""
    n, c, h, w = x_shape
    return f"{k}x{k} window, batch {n}, {_plural(c, 'channel')}, {h}x{w} input ({label})"


def _a(value):
    """How to name the type of a returned value in a message: "None", "a list", "an int"..."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _message(headline, config, details=(), cause=None, notes=()):
    lines = [headline, f"Configuration: {config}.", *details]
    if cause:
        lines.append(f"Likely cause: {cause}")
    return "\n".join([*lines, *notes])


def find_problem(actual, expected, what, rtol, atol, reference="expected"):
    """(aspect, headline, details) of the first problem of ``actual``, or None if it matches ``expected``.

    aspect is "type", "shape", "dtype" or "values"; both arrays may have any shape. reference: what
    ``expected`` is called in the message.
    """
    if not isinstance(actual, np.ndarray):
        hint = ["Did you forget a return statement?"] if actual is None else []
        return "type", f"wrong type: {what} is {_a(actual)}, expected a numpy array.", hint
    if actual.shape != expected.shape:
        return "shape", f"wrong shape: {what} has shape {actual.shape}, expected {expected.shape}.", []
    if not np.issubdtype(actual.dtype, np.floating):
        return "dtype", f"wrong dtype: {what} has dtype {actual.dtype}, expected floating point.", [
            "np.zeros(shape) gives float64; np.zeros_like(a) copies the dtype of a."]
    close = np.isclose(actual, expected, rtol=rtol, atol=atol)
    if close.all():
        return None
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    error = np.abs(actual - expected)
    shown = "" if _HIDE_EXPECTED.get() else f", {reference} {expected[first]:.6g}"
    return "values", f"wrong values in {what}.", [
        f"First wrong element: {what}[{', '.join(map(str, first))}] = {actual[first]:.6g}{shown} "
        f"(error {error[first]:.3g}).",
        f"{np.count_nonzero(~close)} of {close.size} elements are wrong (largest error {np.nanmax(error):.3g}).",
    ]


def compare(actual, expected, what, config, diagnosis=None, rtol=RTOL, atol=ATOL, title="check"):
    """Raise CheckFailed unless ``actual`` is a float ndarray of ``expected``'s shape with close values.

    :param actual: what the student's code returned (anything).
    :param expected: ndarray of any shape.
    :param what: how the student's code names it, e.g. 'forward(x)["out"]'.
    :param config: the configuration in words (see :func:`describe_conv`).
    :param diagnosis: optional callable(actual) -> likely cause (str) or None, tried on a wrong shape or values.
    :param title: the check, e.g. "conv forward", at the start of the message.
    """
    problem = find_problem(actual, expected, what, rtol, atol)
    if problem:
        aspect, headline, details = problem
        cause = squeeze_cause(actual.shape, expected.shape) if aspect == "shape" else None
        if aspect in ("shape", "values") and diagnosis is not None:
            cause = diagnosis(actual)
        raise CheckFailed(_message(f"{title}: {headline}", config, details, cause))


# ---- calling the student's code ----------------------------------------------------------------------

@contextmanager
def _student_code(call, config, cause=None):
    """Re-raise an exception from the student's code as CheckFailed chained to it (NotImplementedError as is).

    :param cause: optional callable(exception) -> likely cause (str) or None.
    """
    try:
        yield
    except NotImplementedError:
        raise
    except Exception as error:
        headline = f"{call} raised {type(error).__name__}: {error}"
        details = ["The error comes from your code, not from the check."]
        raise CheckFailed(_message(headline, config, details, cause(error) if cause else None)) from error


def _output_index_cause(step):
    return (f"the output index must be i // {step}, not the input index i: yield i // {step}, j // {step} "
            f"in {VIEWS}.")


INTEGER_DIVISION = "use integer division, i // stride, not i / stride."
WINDOW_COUNT = ("the top-left corners are i = 0, stride, 2 * stride, ... up to H - k (range(0, H - k + 1, stride)), "
                "and the same for j; a window that does not fit entirely is dropped.")
ROW_BY_ROW = "the windows must come row by row: the outer loop goes over rows, the inner over columns."


def views_index_cause(yielded, grid, stride, step):
    """The likely cause of the first wrong (out_row, out_col) the views yielded, or None; for the views checks and
    the kit's verdict alike.

    :param yielded: [(out_row, out_col), ...] in the order yielded, None for an index that is not an int.
    :param grid: (H_out, W_out); step: how the stride is called in the code.
    """
    expected = [(p, q) for p in range(grid[0]) for q in range(grid[1])]
    if any(None in pair for pair in yielded):
        return INTEGER_DIVISION
    if len(yielded) != len(expected):
        return WINDOW_COUNT
    for pair, (p, q) in zip(yielded, expected):
        if pair != (p, q):
            return _output_index_cause(step) if pair == (p * stride, q * stride) else \
                ROW_BY_ROW if sorted(yielded) == expected else None
    return None


def view_start_cause(view, at_output_index, step):
    """The likely cause of a wrong view: the slice starts at the output index instead of the input index; or None."""
    if isinstance(view, np.ndarray) and view.shape == at_output_index.shape and np.array_equal(view, at_output_index):
        return f"the view must start at the input index (i, j) = ({step} * out_row, {step} * out_col), not at the " \
               "output index."
    return None


def _error_cause(stride, size_one, step="stride"):
    """callable(exception) -> likely cause: the output index for an IndexError when stride > 1, else .squeeze()
    for an IndexError or ValueError when the batch or filter/channel axis has size 1 (size_one), else None.

    The visible checks run the cases with size-1 axes after the others, so this cause is likely there.
    :param step: how the stride is called in the code ("stride", or "k" for pooling).
    """
    def cause(error):
        if isinstance(error, IndexError) and stride > 1:
            return _output_index_cause(step)
        if isinstance(error, ValueError) and "reshape" in str(error):
            return ("reshaping x into k x k blocks works only when k divides H and W; the windows that do not fit "
                    "are dropped: crop x to x[:, :, :H // k * k, :W // k * k] first, or loop over the views.")
        return SQUEEZE if size_one and isinstance(error, (IndexError, ValueError)) else None
    return cause


def _forward(layer, x, title, config, cause):
    """Call forward on a copy of x and check that it returns the cache dict; returns the cache."""
    with _student_code(f"{title}: forward(x)", config, cause):
        cache = layer.forward(x.copy())
    if not isinstance(cache, dict):
        hint = ["Did you forget `return cache`?"] if cache is None else []
        raise CheckFailed(_message(f'{title}: wrong type: forward(x) returned {_a(cache)}, expected the dict cache '
                                   'with keys "x" and "out".', config, hint))
    missing = [key for key in ("x", "out") if key not in cache]
    if missing:
        raise CheckFailed(_message(f"{title}: wrong type: the dict returned by forward(x) has no key "
                                   f"{' nor '.join(map(repr, missing))}.", config))
    compare(cache["x"], x, 'forward(x)["x"]', config, title=title)
    return cache


def _make_layer(layer_cls, kwargs, title, config):
    call = f"{layer_cls.__name__}({', '.join(f'{name}={value}' for name, value in kwargs.items())})"
    with _student_code(f"{title}: {call}", config):
        return layer_cls(**kwargs)


# ---- windows ----------------------------------------------------------------------------------------

def _check_views(layer, x, k, stride, title, config, cause, step):
    """The views must be a generator of (out_row, out_col, x[:, :, i:i+k, j:j+k]) with (i, j) = stride *
    (out_row, out_col), for every window that fits, row by row. x: (N, C, H, W).

    :param cause: see :func:`_error_cause`; step: how the stride is called in the code.
    """
    call = f"{VIEWS}(x)"
    with _student_code(f"{title}: {call}", config, cause):
        views = getattr(layer, VIEWS)(x.copy())
    if not inspect.isgenerator(views):
        raise CheckFailed(_message(f"{title}: wrong type: {call} returned {_a(views)}, expected a generator.", config,
                                   ["Use `yield out_row, out_col, view` inside the loops: a function containing "
                                    "yield returns a generator."]))
    with _student_code(f"{title}: iterating over {call}", config, cause):
        items = list(views)
    h_out, w_out = (x.shape[2] - k) // stride + 1, (x.shape[3] - k) // stride + 1
    expected = [(p, q) for p in range(h_out) for q in range(w_out)]
    for number, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 3):
            raise CheckFailed(_message(f"{title}: wrong type: item {number} yielded by {call} is {_a(item)}, expected "
                                       "a tuple (out_row, out_col, view).", config))
        for name, index in zip(("out_row", "out_col"), item[:2]):
            if not isinstance(index, (int, np.integer)):
                raise CheckFailed(_message(
                    f"{title}: wrong type: {name} of item {number} yielded by {call} is {_a(index)} ({index!r}), "
                    "expected an int.", config, cause=INTEGER_DIVISION))
    if len(items) != len(expected):
        raise CheckFailed(_message(
            f"{title}: wrong number of windows: {call} yielded {len(items)}, expected {len(expected)} "
            f"({h_out} x {w_out} output grid).", config, cause=WINDOW_COUNT))
    for number, ((out_row, out_col, view), (p, q)) in enumerate(zip(items, expected)):
        if (out_row, out_col) != (p, q):
            cause = views_index_cause([tuple(item[:2]) for item in items], (h_out, w_out), stride, step)
            raise CheckFailed(_message(
                f"{title}: wrong indices: window {number} (in row-major order) was yielded with (out_row, out_col) = "
                f"({out_row}, {out_col}), expected ({p}, {q}).", config, cause=cause))
        i, j = p * stride, q * stride
        compare(view, x[:, :, i:i + k, j:j + k], "view", f"{config}, the window of output ({p}, {q})", title=title,
                diagnosis=lambda wrong: view_start_cause(wrong, x[:, :, p:p + k, q:q + k], step))


def _run_conv_views(layer_cls, case, label):
    """The conv layer's views of x (N, 1, H, W) with the case's k x k filter and stride."""
    x, k, stride = case["x"], case["weights"].shape[1], int(case["stride"])
    config = describe_conv(x.shape, k, stride, None, label)
    layer = _make_layer(layer_cls, {"filter_size": k, "stride": stride, "n_outchannel": 2}, "conv views", config)
    _check_views(layer, x, k, stride, "conv views", config, _error_cause(stride, x.shape[0] == 1), "stride")


def _run_pool_views(layer_cls, case, label):
    """The pooling layer's views of x (N, C, H, W) with a k x k window (stride k)."""
    x, k = case["x"], int(case["k"])
    config = describe_pool(x.shape, k, label)
    layer = _make_layer(layer_cls, {"filter_size": k}, "pool views", config)
    _check_views(layer, x, k, k, "pool views", config, _error_cause(k, 1 in x.shape[:2], "k"), "k")


# ---- convolution ------------------------------------------------------------------------------------

def _conv_layer(layer_cls, weights, stride, title, config):
    n_filters, k, _ = weights.shape
    layer = _make_layer(layer_cls, {"filter_size": k, "stride": stride, "n_outchannel": n_filters}, title, config)
    layer.weights = weights.copy()
    return layer


def _run_conv_forward(layer_cls, case, label):
    """forward(x)["out"] with the case's weights: x (N, 1, H, W), weights (F, k, k), expected_out (N, F, H_out, W_out)."""
    x, weights, stride = case["x"], case["weights"], int(case["stride"])
    title = "conv forward"
    config = describe_conv(x.shape, weights.shape[1], stride, weights.shape[0], label)
    cause = _error_cause(stride, x.shape[0] == 1 or weights.shape[0] == 1)
    cache = _forward(_conv_layer(layer_cls, weights, stride, title, config), x, title, config, cause)
    compare(cache["out"], case["expected_out"], 'forward(x)["out"]', config, title=title,
            diagnosis=lambda out: likely_cause("conv_forward", out, case["expected_out"], case))


def _numerical_problem(layer, x, wrt, case, expected, actual, what, title, config, cause):
    """Compare ``actual`` with the gradient of sum(layer.forward(x)["out"] * grad_output) with respect to the array
    ``wrt`` (layer.weights, layer.bias or x itself); returns a find_problem tuple or None.

    When the student's forward gives the case's expected output at x, that gradient is the ``expected`` one, which is
    compared instead; otherwise it is computed by central differences (two calls of forward per element of ``wrt``).
    """
    grad_output = case["grad_output"]
    out = _forward(layer, x, title, config, cause)["out"]
    if not isinstance(out, np.ndarray) or out.shape != grad_output.shape:
        raise CheckFailed(_message(f'{title}: the numerical gradient check needs forward(x)["out"] of shape '
                                   f"{grad_output.shape}; yours is {getattr(out, 'shape', _a(out))}: run the forward "
                                   "checks first.", config))
    if find_problem(out, case["expected_out"], "out", RTOL, ATOL) is None:
        gradient = expected
    else:
        with _student_code(f"{title}: forward(x), during the numerical gradient check", config, cause):
            gradient = numerical_gradient(lambda: np.sum(layer.forward(x)["out"] * grad_output), wrt)
    return find_problem(actual, gradient, what, NUMERICAL_RTOL, NUMERICAL_ATOL, reference="numerical gradient")


def _check_gradient(actual, expected, numerical_problem, what, title, config, diagnosis, notes=()):
    """Fail if ``actual`` differs from ``expected``. The numerical gradient through the student's own
    forward explains a failure, and when ``actual`` is right but disagrees with it, a printed note blames forward.

    :param numerical_problem: callable() -> find_problem tuple or None (the numerical check), or None to skip it.
    :param notes: extra lines for the message when the values are wrong.
    """
    problem = find_problem(actual, expected, what, RTOL, ATOL)
    if problem and problem[0] != "values":
        compare(actual, expected, what, config, diagnosis, title=title)
    if problem:
        _, headline, details = problem
        if numerical_problem is not None:
            try:
                consistent = numerical_problem() is None
            except (CheckFailed, NotImplementedError):
                consistent = None  # the student's forward cannot run: say nothing about it
            if consistent is not None:
                details = details + [
                    "It is the exact gradient of your own forward (numerical check), so your forward does not "
                    "compute the expected output either: fix forward first." if consistent else
                    "It is not the gradient of your own forward either (numerical check)."]
        raise CheckFailed(_message(f"{title}: {headline}", config, details, diagnosis(actual), notes))
    if numerical_problem is not None:  # the backward is right and earns its points; the note is about forward
        try:
            note = "it is not the numerical gradient of your own forward, so your forward is probably wrong: see " \
                   "the forward checks." if numerical_problem() else None
        except (CheckFailed, NotImplementedError):
            note = "the numerical gradient check was skipped because your forward does not run yet."
        if note:
            _note(config, f"{title}: {what} matches the expected gradient, but {note}")


def _run_conv_backward(layer_cls, case, label):
    """backward(cache, grad_output) against the case's expected_grad (F, k, k) and the numerical gradient of the
    student's forward. The cache passed is {"x": x, "out": the expected output}; grad_output (N, F, H_out, W_out)."""
    x, weights, stride, grad_output = case["x"], case["weights"], int(case["stride"]), case["grad_output"]
    title = "conv backward"
    n_filters, k, _ = weights.shape
    config = describe_conv(x.shape, k, stride, n_filters, label)
    cause = _error_cause(stride, x.shape[0] == 1 or n_filters == 1)
    layer = _conv_layer(layer_cls, weights, stride, title, config)
    cache = {"x": x.copy(), "out": case["expected_out"].copy()}
    what = "backward(cache, grad_output)"
    with _student_code(f"{title}: {what}", config, cause):
        grads = layer.backward(cache, grad_output.copy())
    x_copy = x.copy()
    _check_gradient(
        grads, case["expected_grad"],
        lambda: _numerical_problem(layer, x_copy, layer.weights, case, case["expected_grad"], grads, what, title, config,
                                   cause),
        what, title, config, lambda g: likely_cause("conv_backward", g, case["expected_grad"], case))


# ---- max pooling ------------------------------------------------------------------------------------

def _run_pool_forward(layer_cls, case, label):
    """forward(x)["out"] of a k x k pooling layer: x (N, C, H, W), expected_out (N, C, H // k, W // k)."""
    x, k = case["x"], int(case["k"])
    title = "pool forward"
    config = describe_pool(x.shape, k, label)
    layer = _make_layer(layer_cls, {"filter_size": k}, title, config)
    cache = _forward(layer, x, title, config, _error_cause(k, 1 in x.shape[:2], "k"))
    compare(cache["out"], case["expected_out"], 'forward(x)["out"]', config, title=title,
            diagnosis=lambda out: likely_cause("pool_forward", out, case["expected_out"], case))


def _check_pool_backward(layer, case, kind, title, config, cause):
    """backward(cache, grad_output) of a pooling layer against the case's expected_grad (N, C, H, W) and, when no
    window has a tie, the numerical gradient of the student's forward. The cache passed is {"x": x, "out": the
    expected output}; ``kind`` is the kind of output of the diagnosis ("pool_backward" or "pool2d_backward")."""
    x, grad_output = case["x"], case["grad_output"]
    what = "backward(cache, grad_output)"
    with _student_code(f"{title}: {what}", config, cause):
        grads = layer.backward({"x": x.copy(), "out": case["expected_out"].copy()}, grad_output.copy())
    ties = bool(case["ties"])
    x_copy = x.copy()
    _check_gradient(
        grads, case["expected_grad"],
        None if ties else lambda: _numerical_problem(layer, x_copy, x_copy, case, case["expected_grad"], grads, what,
                                                      title, config, cause),
        what, title, config, lambda g: likely_cause(kind, g, case["expected_grad"], case),
        notes=[TIE_RULE] if ties else [])


def _run_pool_backward(layer_cls, case, label):
    """:func:`_check_pool_backward` of a k x k pooling layer (stride k): grad_output (N, C, H // k, W // k)."""
    k, title = int(case["k"]), "pool backward"
    config = describe_pool(case["x"].shape, k, label)
    layer = _make_layer(layer_cls, {"filter_size": k}, title, config)
    _check_pool_backward(layer, case, "pool_backward", title, config, _error_cause(k, 1 in case["x"].shape[:2], "k"))


def _run_conv_forward_and_backward(layer_cls, case, label):
    _run_conv_forward(layer_cls, case, label)
    _run_conv_backward(layer_cls, case, label)


# ---- notebook 04: layers that stack ------------------------------------------------------------------------

def describe_conv2d(x_shape, k, stride, padding, n_filters, label):
    """E.g. "stride 2, padding 1, batch 2, 3 channels, 4 filters, 5x7 input, 3x3 filter (random case, seed 4)"."""
    n, c, h, w = x_shape
    return (f"stride {stride}, padding {padding}, batch {n}, {_plural(c, 'channel')}, {_plural(n_filters, 'filter')}, "
            f"{h}x{w} input, {k}x{k} filter ({label})")


def describe_pool2d(x_shape, k, stride, label):
    """E.g. "3x3 window, stride 2, batch 2, 3 channels, 7x9 input (hand-checkable case)"."""
    n, c, h, w = x_shape
    return f"{k}x{k} window, stride {stride}, batch {n}, {_plural(c, 'channel')}, {h}x{w} input ({label})"


GRADIENT_KEYS = ("x", "weights", "bias")  # what backward returns, in the order the checks compare them


def _conv2d_setup(layer_cls, case, label, title):
    """(layer with the case's weights and bias, configuration, error cause) for a notebook-04 conv case: x (N, C, H, W),
    weights (F, C, k, k), bias (F,), stride, padding."""
    x, weights = case["x"], case["weights"]
    n_filters, n_channels, k, _ = weights.shape
    stride, padding = int(case["stride"]), int(case["padding"])
    config = describe_conv2d(x.shape, k, stride, padding, n_filters, label)
    layer = _make_layer(layer_cls, {"n_inchannel": n_channels, "n_outchannel": n_filters, "filter_size": k,
                                    "stride": stride, "padding": padding}, title, config)
    layer.weights, layer.bias = weights.copy(), case["bias"].copy()
    return layer, config, _error_cause(stride, 1 in (x.shape[0], n_channels, n_filters))


def _run_conv2d_forward(layer_cls, case, label, title="conv2d forward"):
    """forward(x)["out"] against the case's expected_out (N, F, H_out, W_out)."""
    layer, config, cause = _conv2d_setup(layer_cls, case, label, title)
    cache = _forward(layer, case["x"], title, config, cause)
    compare(cache["out"], case["expected_out"], 'forward(x)["out"]', config, title=title,
            diagnosis=lambda out: likely_cause("conv2d_forward", out, case["expected_out"], case))


def _run_conv2d_backward(layer_cls, case, label, keys=GRADIENT_KEYS, title="conv2d backward"):
    """backward(cache, grad_output) must return the dict {"x", "weights", "bias"}; the gradients ``keys`` are
    compared with the case's expected_grad_<key> and with the numerical gradient of the student's forward with
    respect to x, layer.weights or layer.bias. The cache passed is {"x": x, "out": the expected output}."""
    x, grad_output = case["x"], case["grad_output"]
    layer, config, cause = _conv2d_setup(layer_cls, case, label, title)
    call = "backward(cache, grad_output)"
    with _student_code(f"{title}: {call}", config, cause):
        grads = layer.backward({"x": x.copy(), "out": case["expected_out"].copy()}, grad_output.copy())
    if not isinstance(grads, dict):
        hint = ["Did you forget the return statement?"] if grads is None else []
        raise CheckFailed(_message(f"{title}: wrong type: {call} returned {_a(grads)}, expected a dict with the keys "
                                   '"x", "weights" and "bias".', config, hint))
    missing = [key for key in GRADIENT_KEYS if key not in grads]
    if missing:
        raise CheckFailed(_message(f"{title}: wrong type: the dict returned by {call} has no key "
                                   f"{' nor '.join(map(repr, missing))}.", config))
    x_copy = x.copy()
    for key in keys:
        what, wrt = f'{call}["{key}"]', {"x": x_copy, "weights": layer.weights, "bias": layer.bias}[key]
        expected = case[f"expected_grad_{key}"]
        _check_gradient(
            grads[key], expected,
            lambda: _numerical_problem(layer, x_copy, wrt, case, expected, grads[key], what, title, config, cause),
            what, title, config, lambda g: likely_cause(f"conv2d_backward_{key}", g, expected, case))


def _run_conv2d_backward_params(layer_cls, case, label):
    _run_conv2d_backward(layer_cls, case, label, keys=("weights", "bias"))


def _run_conv2d_backward_input(layer_cls, case, label):
    _run_conv2d_backward(layer_cls, case, label, keys=("x",))


def _run_conv2d_forward_and_backward(layer_cls, case, label, title="conv2d"):
    _run_conv2d_forward(layer_cls, case, label, title=f"{title} forward")
    _run_conv2d_backward(layer_cls, case, label, title=f"{title} backward")


def _run_fastconv2d(layer_cls, case, label):
    _run_conv2d_forward_and_backward(layer_cls, case, label, title="fastconv2d")


def _pool2d_setup(layer_cls, case, label, title):
    x, k, stride = case["x"], int(case["k"]), int(case["stride"])
    config = describe_pool2d(x.shape, k, stride, label)
    layer = _make_layer(layer_cls, {"filter_size": k, "stride": stride}, title, config)
    return layer, config, _error_cause(stride, 1 in x.shape[:2])


def _run_pool2d_forward(layer_cls, case, label):
    """forward(x)["out"] of k x k windows ``stride`` apart: x (N, C, H, W), expected_out (N, C, H_out, W_out)."""
    title = "pool2d forward"
    layer, config, cause = _pool2d_setup(layer_cls, case, label, title)
    cache = _forward(layer, case["x"], title, config, cause)
    compare(cache["out"], case["expected_out"], 'forward(x)["out"]', config, title=title,
            diagnosis=lambda out: likely_cause("pool2d_forward", out, case["expected_out"], case))


def _run_pool2d_backward(layer_cls, case, label):
    """:func:`_check_pool_backward` of a k x k pooling layer with the case's stride: grad_output (N, C, H_out, W_out)."""
    title = "pool2d backward"
    layer, config, cause = _pool2d_setup(layer_cls, case, label, title)
    _check_pool_backward(layer, case, "pool2d_backward", title, config, cause)


# ---- the public checks --------------------------------------------------------------------------------

RUNNERS = {  # graded test (the grade id of its cell) -> what one of its cases checks
    "conv_views": _run_conv_views,
    "conv_forward_stride1": _run_conv_forward,
    "conv_forward_strided": _run_conv_forward,
    "conv_backward_stride1": _run_conv_backward,
    "conv_backward_strided": _run_conv_backward,
    "conv_batch_of_one": _run_conv_forward_and_backward,
    "pool_views": _run_pool_views,
    "pool_forward": _run_pool_forward,
    "pool_backward": _run_pool_backward,
    "pool_backward_ties": _run_pool_backward,
    "conv2d_forward": _run_conv2d_forward,
    "conv2d_forward_padding_stride": _run_conv2d_forward,
    "conv2d_backward_params": _run_conv2d_backward_params,
    "conv2d_backward_input": _run_conv2d_backward_input,
    "conv2d_batch_of_one": _run_conv2d_forward_and_backward,
    "pool2d_forward": _run_pool2d_forward,
    "pool2d_backward": _run_pool2d_backward,
    "fastconv2d": _run_fastconv2d,
}
TITLES = {  # test -> what its line says when every case passed
    "conv_views": "conv views", "conv_forward_stride1": "conv forward, stride 1",
    "conv_forward_strided": "conv forward, stride 2 and 3", "conv_backward_stride1": "conv backward, stride 1",
    "conv_backward_strided": "conv backward, stride 2 and 3",
    "conv_batch_of_one": "conv, batch of one and single filter (forward and backward)",
    "pool_views": "pool views", "pool_forward": "pool forward", "pool_backward": "pool backward",
    "pool_backward_ties": "pool backward with ties",
    "conv2d_forward": "conv2d forward: channels, filters, bias",
    "conv2d_forward_padding_stride": "conv2d forward: padding and strides",
    "conv2d_backward_params": "conv2d backward: dL/dweights and dL/dbias",
    "conv2d_backward_input": "conv2d backward: dL/dx",
    "conv2d_batch_of_one": "conv2d, batch of one, one channel or filter",
    "pool2d_forward": "pool2d forward: overlapping windows", "pool2d_backward": "pool2d backward: overlaps and ties",
    "fastconv2d": "FastConv2dLayer, vectorised, forward and backward",
}


def run_case(test, layer_cls, case, label):
    """Check ``layer_cls`` on one case of ``test`` (a dict as in :mod:`cnnkit.casefile`); raise CheckFailed on a
    problem."""
    RUNNERS[test](layer_cls, case, label)


def visible_cases(test):
    """The visible cases of one test: a list of case dicts, in the order they run (the hand-checkable one first)."""
    return casefile.cases_of(VISIBLE_CASES, test)


def _run_visible(test, layer_cls, then=None):
    """Run the visible cases of ``test``, then ``then(layer_cls)`` if given, and print one line."""
    cases = visible_cases(test)
    with notes_once(len(cases)):
        for case in cases:
            run_case(test, layer_cls, case, case["label"])
    if then is not None:
        then(layer_cls)
    print(f"{TITLES[test]}: {len(cases)} cases passed.")


def conv_views(layer_cls):
    """The conv layer's windows: type, count, order, output indices and contents; strides 1, 2, 3."""
    _run_visible("conv_views", layer_cls)


def conv_forward_stride1(layer_cls):
    """Conv forward with stride 1: a hand-checkable case, then random ones (incl. a 1x1 filter)."""
    _run_visible("conv_forward_stride1", layer_cls)


def conv_forward_strided(layer_cls):
    """Conv forward with strides 2 and 3 on non-square inputs whose last windows do not fit."""
    _run_visible("conv_forward_strided", layer_cls)


def conv_backward_stride1(layer_cls):
    """Conv backward with stride 1, against the expected gradient and the numerical gradient of the student's
    forward."""
    _run_visible("conv_backward_stride1", layer_cls)


def conv_backward_strided(layer_cls):
    """Conv backward with strides 2 and 3, against the expected gradient and the numerical gradient of the
    student's forward."""
    _run_visible("conv_backward_strided", layer_cls)


def conv_batch_of_one(layer_cls):
    """Conv forward and backward with a batch of 1, a single filter, and both."""
    _run_visible("conv_batch_of_one", layer_cls)


def pool_views(layer_cls):
    """The pooling layer's windows: type, count, order, output indices and contents; k = 2, 3, 4."""
    _run_visible("pool_views", layer_cls)


def pool_forward(layer_cls):
    """Max pooling forward with k = 2, 3, 4, including sizes that k does not divide."""
    _run_visible("pool_forward", layer_cls)


def pool_backward(layer_cls):
    """Max pooling backward without ties, against the expected gradient and the numerical gradient of the
    student's forward."""
    _run_visible("pool_backward", layer_cls)


def pool_backward_ties(layer_cls):
    """Max pooling backward with tied maxima: the gradient goes to the first maximum in row-major order."""
    _run_visible("pool_backward_ties", layer_cls)


def conv2d_forward(layer_cls):
    """Notebook 04's conv forward with several channels and filters, a bias, stride 1 and no padding (a 1x1 filter
    among them)."""
    _run_visible("conv2d_forward", layer_cls)


def conv2d_forward_padding_stride(layer_cls):
    """Conv forward with padding 1 and 2 and strides 2 and 3, whose last windows do not always fit."""
    _run_visible("conv2d_forward_padding_stride", layer_cls)


def conv2d_backward_params(layer_cls):
    """dL/dweights and dL/dbias in every configuration, against the expected gradients and the numerical gradients
    of the student's forward."""
    _run_visible("conv2d_backward_params", layer_cls)


def conv2d_backward_input(layer_cls):
    """dL/dx in every configuration, against the expected gradient and the numerical gradient of the student's
    forward."""
    _run_visible("conv2d_backward_input", layer_cls)


def conv2d_batch_of_one(layer_cls):
    """Conv forward and backward with one image, one channel or one filter: the axes of length 1 survive."""
    _run_visible("conv2d_batch_of_one", layer_cls)


def pool2d_forward(layer_cls):
    """Max pooling forward with windows that overlap (stride < k) and that tile (stride = k)."""
    _run_visible("pool2d_forward", layer_cls)


def pool2d_backward(layer_cls):
    """Max pooling backward with overlapping windows, where gradients that meet add up, and with ties."""
    _run_visible("pool2d_backward", layer_cls)


def fastconv2d(layer_cls):
    """The vectorised layer, forward and backward, in every configuration of the conv2d checks; then, that it has no
    Python loop over the output positions (see :mod:`cnnkit.position_loops`)."""
    _run_visible("fastconv2d", layer_cls, then=check_no_position_loop)


def check_no_position_loop(layer_cls, title="fastconv2d"):
    """Run forward and backward of ``layer_cls`` (notebook 04's conv API) in each configuration of
    :data:`cnnkit.position_loops.PROBES`, at two input sizes; raise CheckFailed, naming the line that ran more often,
    when the student's code ran more lines for the larger input (a Python loop over the positions)."""
    small, large = position_loops.OUTPUTS
    for probe in position_loops.PROBES:
        size = probe.input_size(small)
        config = describe_conv2d((probe.batch, probe.channels, size, size), probe.k, probe.stride, probe.padding,
                                 probe.filters, f"and the same at {probe.input_size(large)}x{probe.input_size(large)}")
        counts = []
        for output in (small, large):
            arrays = probe.inputs(output)
            layer = _make_layer(layer_cls, {"n_inchannel": probe.channels, "n_outchannel": probe.filters,
                                            "filter_size": probe.k, "stride": probe.stride, "padding": probe.padding},
                                title, config)
            layer.weights, layer.bias = arrays["weights"], arrays["bias"]
            with _student_code(f"{title}: forward(x), then backward(cache, grad_output)", config):
                counts.append(position_loops.lines_run(layer, arrays["x"], arrays["grad_output"]))
        totals = [sum(count.values()) for count in counts]
        problem = position_loops.loop_problem(*totals, small, large)
        if problem:
            grown = position_loops.most_grown(*counts)
            cause = grown and position_loops.loop_cause((position_loops.describe_line(*grown[:2]), *grown[2:]),
                                                        small, large)
            raise CheckFailed(_message(f"{title}: {problem}", config, cause=cause))
