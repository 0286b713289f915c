"""The registry of typical mistakes: for each, the code a student writes, the output it gives, and its cause.

One :class:`Mistake` per entry of :data:`MISTAKES`, and nothing about a mistake anywhere else:

- ``code`` is the student's code: solution regions of the reference class replaced (``autograder.sample_class``
  builds the class from it, for the sample class and the test suites);
- ``output`` computes, from the oracle and independently of any student code, what that code outputs: the
  *signature* by which the checks recognise it. :func:`signatures` stores it in a case as data, with the
  ``cause``, and the student package's :mod:`cnnkit.known_mistakes` compares a wrong output with it;
- ``cause`` is the sentence the visible checks, the hidden tests and the kit's verdict reasons print;
- ``fails`` are the graded tests the mistake fails (the others it passes).

Keyword arguments of ``output``, by kind (shapes as in :mod:`autograder.oracle`):

- ``"conv_forward"``: x (N, 1, H, W), weights (F, k, k), stride; output (N, F, H_out, W_out).
- ``"conv_backward"``: x (N, 1, H, W), grad_output (N, F, H_out, W_out), k, stride; output (F, k, k).
- ``"pool_forward"``: x (N, C, H, W), k; output (N, C, H // k, W // k).
- ``"pool_backward"``: x (N, C, H, W), grad_output (N, C, H // k, W // k), k; output (N, C, H, W).
- ``"conv2d_forward"``: x (N, C, H, W), weights (F, C, k, k), bias (F,), stride, padding; output (N, F, H_out, W_out)
  with H_out = (H + 2 padding - k) // stride + 1.
- ``"conv2d_backward_x"``, ``"conv2d_backward_weights"``, ``"conv2d_backward_bias"``: x, weights, grad_output
  (N, F, H_out, W_out), stride, padding; output dL/dx (N, C, H, W), dL/dweights (F, C, k, k), dL/dbias (F,).
- ``"pool2d_forward"``: x (N, C, H, W), k, stride; output (N, C, H_out, W_out), H_out = (H - k) // stride + 1.
- ``"pool2d_backward"``: x, grad_output (N, C, H_out, W_out), k, stride; output (N, C, H, W).
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from autograder import oracle
from cnnkit.known_mistakes import ATOL, RTOL

# The solution regions of each reference class, by layer (see autograder.runner.harvest.CLASSES).
REGIONS = {"conv": {"views": 0, "forward": 1, "backward": 2}, "pool": {"views": 0, "forward": 1, "backward": 2},
           "conv2d": {"forward": 0, "backward": 1, "backward_end": 2}, "pool2d": {"forward": 0, "backward": 1},
           "fastconv2d": {"columns": 0, "forward": 1, "backward": 2}}

def _at_input_index(out, stride):
    """(N, C, H_out, W_out) -> same shape, out[..., p, q] moved to [..., s p, s q] (if inside), zero elsewhere."""
    wrong = np.zeros(out.shape)
    kept = wrong[:, :, ::stride, ::stride]
    kept[...] = out[:, :, :kept.shape[2], :kept.shape[3]]
    return wrong


def conv_forward_flipped_output(x, weights, stride):
    """True convolution: the kernel flipped in both directions before the cross-correlation."""
    return oracle.conv_forward(x, weights[:, ::-1, ::-1], stride)


def conv_forward_at_input_index_output(x, weights, stride):
    """out[i, j] = correct[i / s, j / s] for i, j multiples of s (that fit), 0 elsewhere."""
    return _at_input_index(oracle.conv_forward(x, weights, stride), stride)


def conv_backward_ignoring_stride_output(x, grad_output, k, stride):
    """dW[f, a, b] = sum_{n,p,q} G[n, f, p, q] x[n, 0, a + p, b + q]: windows taken as if the stride were 1."""
    return oracle.conv_weight_grad(x, grad_output, k, 1)


def conv_backward_averaged_output(x, grad_output, k, stride):
    """The correct gradient divided by the batch size N."""
    return oracle.conv_weight_grad(x, grad_output, k, stride) / len(x)


def conv_backward_flipped_output(x, grad_output, k, stride):
    """The correct gradient flipped in both directions (the gradient of a true convolution)."""
    return oracle.conv_weight_grad(x, grad_output, k, stride)[:, ::-1, ::-1]


def pool_forward_average_output(x, k):
    """Average instead of maximum of each window."""
    return oracle.pool_windows(x, k).mean(axis=-1)


def pool_forward_at_input_index_output(x, k):
    """out[i, j] = correct[i / k, j / k] for i, j multiples of k (that fit), 0 elsewhere."""
    return _at_input_index(oracle.maxpool_forward(x, k), k)


def pool_backward_every_tied_max_output(x, grad_output, k):
    """The window's whole gradient sent to every element equal to the window's maximum."""
    windows = oracle.pool_windows(x, k)
    is_max = windows == windows.max(axis=-1, keepdims=True)
    return oracle.from_pool_windows(is_max * grad_output[..., None], x.shape, k)


def pool_backward_last_max_output(x, grad_output, k):
    """The window's gradient sent to its LAST maximum in row-major order."""
    windows = oracle.pool_windows(x, k)
    last = k * k - 1 - windows[..., ::-1].argmax(axis=-1)
    one_hot = np.zeros(windows.shape)
    np.put_along_axis(one_hot, last[..., None], grad_output[..., None], axis=-1)
    return oracle.from_pool_windows(one_hot, x.shape, k)


def pool_backward_average_output(x, grad_output, k):
    """The gradient of average pooling: G / k^2 to every element of the window."""
    windows = np.broadcast_to(grad_output[..., None] / k**2, oracle.pool_windows(x, k).shape)
    return oracle.from_pool_windows(windows, x.shape, k)


def conv2d_forward_padding_on_output_output(x, weights, bias, stride, padding):
    """The output of the unpadded input, with the padding's zeros added around it."""
    out = oracle.conv2d(x, weights, bias, stride, 0)
    return np.pad(out, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def conv2d_forward_channels_averaged_output(x, weights, bias, stride, padding):
    """The products summed over each window but averaged over the input channels, plus the bias."""
    with_bias = oracle.conv2d(x, weights, bias, stride, padding)
    return (with_bias - bias[:, None, None]) / x.shape[1] + bias[:, None, None]


def conv2d_backward_weights_averaged_output(x, weights, grad_output, stride, padding):
    """The correct dL/dweights divided by the batch size N."""
    return oracle.conv2d_backward(x, weights, grad_output, stride, padding)["weights"] / len(x)


def pool2d_forward_average_output(x, k, stride):
    """The mean of each k x k window (``stride`` apart) instead of its maximum."""
    return oracle.pool_offsets(x, k, stride).mean(axis=0)


def conv2d_backward_bias_last_position_output(x, weights, grad_output, stride, padding):
    """dL/dbias of the last output position only: grad_output[:, :, -1, -1] summed over the batch."""
    return grad_output[:, :, -1, -1].sum(axis=0)


def conv2d_backward_x_ignoring_stride_output(x, weights, grad_output, stride, padding):
    """dL/dx with the window of output (p, q) added at padded row p, column q instead of (s p, s q)."""
    h_padded, w_padded = x.shape[2] + 2 * padding, x.shape[3] + 2 * padding
    k = weights.shape[-1]
    at_stride_one = np.zeros(grad_output.shape[:2] + (h_padded - k + 1, w_padded - k + 1))
    at_stride_one[:, :, :grad_output.shape[2], :grad_output.shape[3]] = grad_output
    return oracle.conv2d_backward(x, weights, at_stride_one, 1, padding)["x"]


def conv2d_backward_x_crop_at_corner_output(x, weights, grad_output, stride, padding):
    """The gradient of the padded input cut at its top-left corner, [:H, :W], instead of [P:P + H, P:P + W]."""
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    return oracle.conv2d_backward(padded, weights, grad_output, stride, 0)["x"][:, :, :x.shape[2], :x.shape[3]]


def conv2d_backward_x_filter_not_flipped_output(x, weights, grad_output, stride, padding):
    """dL/dx computed with every filter rotated by 180 degrees."""
    return oracle.conv2d_backward(x, weights[:, :, ::-1, ::-1], grad_output, stride, padding)["x"]


def pool2d_backward_overlap_assigned_output(x, grad_output, k, stride):
    """Each window's gradient written (=) at its first maximum, windows in row-major order: where windows share
    their maximum, the last window's gradient replaces the others' instead of adding to them."""
    grad_x = np.zeros(x.shape)
    n, c = np.meshgrid(np.arange(x.shape[0]), np.arange(x.shape[1]), indexing="ij")
    for p, q in np.ndindex(*grad_output.shape[2:]):
        window = x[:, :, stride * p:stride * p + k, stride * q:stride * q + k].reshape(n.shape + (k * k,))
        row, col = np.divmod(window.argmax(axis=2), k)
        grad_x[n, c, stride * p + row, stride * q + col] = grad_output[:, :, p, q]
    return grad_x


@dataclass(frozen=True)
class Mistake:
    """One typical mistake (see the module docstring)."""

    name: str  # starts with the kind of output it is about (one of KINDS), then an underscore
    cause: str
    output: Callable
    code: dict  # {"views" | "forward" | "backward": the body that replaces that solution region}
    fails: frozenset

    @property
    def kind(self):
        return max((kind for kind in KINDS if self.name.startswith(f"{kind}_")), key=len)

    @property
    def layer(self):
        return self.name.split("_")[0]


MISTAKES = [  # order matters: the first signature a wrong output matches names its cause
    Mistake(
        "conv_forward_flipped",
        "this output is what a true convolution gives, with the weights flipped in both directions; the layer "
        "computes a cross-correlation, out[n, f, p, q] = sum over a, b of x[n, 0, s p + a, s q + b] * "
        "weights[f, a, b], without flipping the weights.",
        conv_forward_flipped_output,
        {"forward": 'cache["out"][:, :, out_row, out_col] = np.sum(view * self.weights[:, ::-1, ::-1], axis=(2, 3))'},
        frozenset({"conv_forward_stride1", "conv_forward_strided", "conv_batch_of_one"})),
    Mistake(
        "conv_forward_at_input_index",
        "the output is written at the input index (i, j) of the window; it belongs at the output index "
        "(i // stride, j // stride).",
        conv_forward_at_input_index_output,
        {"forward": """
i, j = out_row * s, out_col * s  # the window's corner in x, taken for the output index
if i < cache["out"].shape[2] and j < cache["out"].shape[3]:
    cache["out"][:, :, i, j] = np.sum(view * self.weights, axis=(2, 3))
"""},
        frozenset({"conv_forward_strided"})),
    Mistake(
        "conv_backward_ignoring_stride",
        "the gradient ignores the stride: the window of output (p, q) starts at x[stride * p, stride * q], "
        "not at x[p, q]; loop over the same views as forward.",
        conv_backward_ignoring_stride_output,
        {"backward": """
g = grad_output[:, :, out_row, out_col]
window = x[:, :, out_row:out_row + self.filter_size, out_col:out_col + self.filter_size]
grads += np.sum(g[:, :, None, None] * window, axis=0)
"""},
        frozenset({"conv_backward_strided"})),
    Mistake(
        "conv_backward_averaged",
        "the gradient is averaged over the batch (divided by N); it must be summed, since any 1/N of the loss "
        "is already in grad_output.",
        conv_backward_averaged_output,
        {"backward": """
g = grad_output[:, :, out_row, out_col]
grads += np.mean(g[:, :, None, None] * view, axis=0)
"""},
        frozenset({"conv_backward_stride1", "conv_backward_strided", "conv_batch_of_one"})),
    Mistake(
        "conv_backward_flipped",
        "the gradient is flipped, as for a true convolution; the layer computes a cross-correlation, so "
        "dW[f] is the sum of grad_output[n, f, p, q] * (the window of output (p, q)), without flipping.",
        conv_backward_flipped_output,
        {"backward": """
g = grad_output[:, :, out_row, out_col]
grads[:, ::-1, ::-1] += np.sum(g[:, :, None, None] * view, axis=0)
"""},
        frozenset({"conv_backward_stride1", "conv_backward_strided", "conv_batch_of_one"})),
    Mistake(
        "pool_forward_average",
        "this is average pooling: each output must be the maximum of its window (np.max), not the mean.",
        pool_forward_average_output,
        {"forward": 'cache["out"][:, :, out_row, out_col] = np.mean(view, axis=(2, 3))'},
        frozenset({"pool_forward"})),
    Mistake(
        "pool_forward_at_input_index",
        "the output is written at the input index (i, j) of the window; it belongs at the output index "
        "(i // k, j // k).",
        pool_forward_at_input_index_output,
        {"forward": """
i, j = out_row * k, out_col * k  # the window's corner in x, taken for the output index
if i < cache["out"].shape[2] and j < cache["out"].shape[3]:
    cache["out"][:, :, i, j] = np.max(view, axis=(2, 3))
"""},
        frozenset({"pool_forward"})),
    Mistake(
        "pool_backward_every_tied_max",
        "the gradient goes to every tied maximum of a window; it must go to the first maximum only "
        "(row-major order, np.argmax of the flattened window).",
        pool_backward_every_tied_max_output,
        {"backward": """
is_max = view == view.max(axis=(2, 3), keepdims=True)
grads[:, :, out_row * k:out_row * k + k, out_col * k:out_col * k + k] = is_max * grad_output[:, :, out_row, out_col][:, :, None, None]
"""},
        frozenset({"pool_backward_ties"})),
    Mistake(
        "pool_backward_last_max",
        "the gradient goes to the last maximum of a window; it must go to the first one in row-major order "
        "(np.argmax of the flattened window returns it).",
        pool_backward_last_max_output,
        {"backward": """
last_max = k * k - 1 - np.argmax(view.reshape(n, c, k * k)[:, :, ::-1], axis=2)
row, col = np.unravel_index(last_max, (k, k))
grads[batch, channel, out_row * k + row, out_col * k + col] = grad_output[:, :, out_row, out_col]
"""},
        frozenset({"pool_backward_ties"})),
    Mistake(
        "pool_backward_average",
        "this is the gradient of average pooling (grad_output / k^2 everywhere in the window); max pooling "
        "sends the whole gradient to the window's maximum and zero to the other elements.",
        pool_backward_average_output,
        {"backward": """
grads[:, :, out_row * k:out_row * k + k, out_col * k:out_col * k + k] = grad_output[:, :, out_row, out_col][:, :, None, None] / k**2
"""},
        frozenset({"pool_backward", "pool_backward_ties"})),
    Mistake(
        "conv2d_forward_padding_on_output",
        "the padding is applied to the output: the zeros go around the INPUT, x_padded = np.pad(x, ...) with P "
        "rows and columns on every side, and the windows slide over x_padded; padding the output afterwards "
        "shifts every value and leaves a border of zeros.",
        conv2d_forward_padding_on_output_output,
        {"forward": """
out = np.zeros((n, self.n_outchannel, (h - k) // s + 1, (w - k) // s + 1))
for out_row, out_col, view in self._get_filtersizeXfiltersize_views(x):
    out[:, :, out_row, out_col] = np.sum(view[:, None] * self.weights, axis=(2, 3, 4)) + self.bias
out = np.pad(out, ((0, 0), (0, 0), (p, p), (p, p)))
"""},
        frozenset({"conv2d_forward_padding_stride", "conv2d_batch_of_one"})),
    Mistake(
        "conv2d_forward_channels_averaged",
        "the input channels are averaged, not summed: out[n, f, p, q] adds weights[f, c, a, b] * x[n, c, ...] over "
        "the channels c as well as over a and b (sum over axes (2, 3, 4) of view[:, None] * weights).",
        conv2d_forward_channels_averaged_output,
        {"forward": """
x_padded = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
out = np.zeros((n, self.n_outchannel, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1))
for out_row, out_col, view in self._get_filtersizeXfiltersize_views(x_padded):
    per_channel = np.sum(view[:, None] * self.weights, axis=(3, 4))  # (N, F, C)
    out[:, :, out_row, out_col] = np.mean(per_channel, axis=2) + self.bias
"""},
        frozenset({"conv2d_forward", "conv2d_forward_padding_stride", "conv2d_batch_of_one"})),
    Mistake(
        "conv2d_backward_weights_averaged",
        "dL/dweights is averaged over the batch (divided by N); it must be summed, since any 1/N of the loss is "
        "already in grad_output.",
        conv2d_backward_weights_averaged_output,
        {"backward": """
grad_weights += np.mean(g[:, :, None, None, None] * view[:, None], axis=0)
grad_x_padded[:, :, i:i + k, j:j + k] += np.sum(g[:, :, None, None, None] * self.weights, axis=1)
"""},
        frozenset({"conv2d_backward_params"})),
    Mistake(
        "conv2d_backward_bias_last_position",
        "dL/dbias holds only the last output position: the bias is added at every position (p, q) of every "
        "image, so its gradient is grad_output summed over n, p and q (np.sum(grad_output, axis=(0, 2, 3))), "
        "not replaced at each window.",
        conv2d_backward_bias_last_position_output,
        {"backward": """
grad_weights += np.sum(g[:, :, None, None, None] * view[:, None], axis=0)
grad_x_padded[:, :, i:i + k, j:j + k] += np.sum(g[:, :, None, None, None] * self.weights, axis=1)
grad_bias = np.sum(g, axis=0)
""", "backward_end": "grad_x = grad_x_padded[:, :, p:p + h, p:p + w]"},
        frozenset({"conv2d_backward_params", "conv2d_batch_of_one"})),
    Mistake(
        "conv2d_backward_x_ignoring_stride",
        "dL/dx ignores the stride: the gradient of the window of output (p, q) goes back to the window it came "
        "from, rows s p to s p + k - 1 of the padded input, not rows p to p + k - 1.",
        conv2d_backward_x_ignoring_stride_output,
        {"backward": """
grad_weights += np.sum(g[:, :, None, None, None] * view[:, None], axis=0)
grad_x_padded[:, :, out_row:out_row + k, out_col:out_col + k] += np.sum(g[:, :, None, None, None] * self.weights, axis=1)
"""},
        frozenset({"conv2d_backward_input", "conv2d_batch_of_one"})),
    Mistake(
        "conv2d_backward_x_crop_at_corner",
        "dL/dx is cut from the wrong place of the padded gradient: the input sits P rows and columns in from "
        "every side of x_padded, so crop [P:P + H, P:P + W] (not [:H, :W], and not [P:-P], which is empty "
        "when P = 0).",
        conv2d_backward_x_crop_at_corner_output,
        {"backward_end": """
grad_bias = np.sum(grad_output, axis=(0, 2, 3))
grad_x = grad_x_padded[:, :, :h, :w]
"""},
        frozenset({"conv2d_backward_input", "conv2d_batch_of_one"})),
    Mistake(
        "conv2d_backward_x_filter_not_flipped",
        "dL/dx is what the filters rotated by 180 degrees give: as a full cross-correlation of grad_output the "
        "input gradient needs the FLIPPED filter, weights[:, :, ::-1, ::-1], while as a sum over windows it adds "
        "grad_output[n, f, p, q] * weights[f] into window (p, q) with no flip; one of the two is mixed up here.",
        conv2d_backward_x_filter_not_flipped_output,
        {"backward": """
grad_weights += np.sum(g[:, :, None, None, None] * view[:, None], axis=0)
grad_x_padded[:, :, i:i + k, j:j + k] += np.sum(g[:, :, None, None, None] * self.weights[:, :, ::-1, ::-1], axis=1)
"""},
        frozenset({"conv2d_backward_input", "conv2d_batch_of_one"})),
    Mistake(
        "pool2d_forward_average",
        "this is average pooling: each output must be the maximum of its window (np.max), not the mean.",
        pool2d_forward_average_output,
        {"forward": 'cache["out"][:, :, out_row, out_col] = np.mean(view, axis=(2, 3))'},
        frozenset({"pool2d_forward"})),
    Mistake(
        "pool2d_backward_overlap_assigned",
        "where windows overlap, an element that is the maximum of several windows must receive the SUM of their "
        "gradients: add with += into grads; with = the last window's gradient replaces the others'.",
        pool2d_backward_overlap_assigned_output,
        {"backward": """
row, col = np.divmod(np.argmax(view.reshape(n, c, k * k), axis=2), k)
grads[batch, channel, s * out_row + row, s * out_col + col] = grad_output[:, :, out_row, out_col]
"""},
        frozenset({"pool2d_backward"})),
]
BY_NAME = {mistake.name: mistake for mistake in MISTAKES}
KINDS = ["conv_forward", "conv_backward", "pool_forward", "pool_backward", "conv2d_forward", "conv2d_backward_x",
         "conv2d_backward_weights", "conv2d_backward_bias", "pool2d_forward", "pool2d_backward"]
# The array of a case each kind of output is compared with (forward outputs and the gradients of backward).
EXPECTED_FIELD = {kind: "expected_out" if kind.endswith("forward") else
                  f"expected_grad_{kind.rsplit('_', 1)[1]}" if kind.startswith("conv2d_backward") else "expected_grad"
                  for kind in KINDS}



def _inputs(kind, case):
    """The keyword arguments of the ``*_output`` functions of ``kind`` (see the module docstring), from a case."""
    if kind.startswith("conv2d"):
        names = ("x", "weights", "bias") if kind == "conv2d_forward" else ("x", "weights", "grad_output")
        return {**{name: case[name] for name in names}, "stride": int(case["stride"]), "padding": int(case["padding"])}
    if kind.startswith("pool2d"):
        names = ("x",) if kind == "pool2d_forward" else ("x", "grad_output")
        return {**{name: case[name] for name in names}, "k": int(case["k"]), "stride": int(case["stride"])}
    if kind.startswith("conv"):
        k, stride = case["weights"].shape[1], int(case["stride"])
        return ({"x": case["x"], "weights": case["weights"], "stride": stride} if kind == "conv_forward" else
                {"x": case["x"], "grad_output": case["grad_output"], "k": k, "stride": stride})
    k = int(case["k"])
    return {"x": case["x"], "k": k} if kind == "pool_forward" else \
        {"x": case["x"], "grad_output": case["grad_output"], "k": k}


def signatures(kind, case):
    """{"mistake/<name>": output, "cause/<name>": sentence} for every mistake of ``kind`` whose output on ``case``
    differs from the correct one (the case's :data:`EXPECTED_FIELD` of the kind), in the registry's order: what
    :func:`cnnkit.known_mistakes.diagnose` reads."""
    correct = case[EXPECTED_FIELD[kind]]
    found = {}
    for mistake in MISTAKES:
        if mistake.kind == kind:
            wrong = mistake.output(**_inputs(kind, case))
            if wrong.shape != correct.shape or not np.allclose(wrong, correct, rtol=RTOL, atol=ATOL):
                found[f"mistake/{mistake.name}"], found[f"cause/{mistake.name}"] = wrong, mistake.cause
    return found
