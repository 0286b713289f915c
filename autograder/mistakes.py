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
"""

from dataclasses import dataclass
from typing import Callable

import numpy as np

from autograder import oracle
from cnnkit.known_mistakes import ATOL, RTOL

REGIONS = {"views": 0, "forward": 1, "backward": 2}  # the solution regions of each reference class

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


@dataclass(frozen=True)
class Mistake:
    """One typical mistake (see the module docstring)."""

    name: str  # starts with the kind of output it is about: conv_forward, conv_backward, pool_forward, pool_backward
    cause: str
    output: Callable
    code: dict  # {"views" | "forward" | "backward": the body that replaces that solution region}
    fails: frozenset

    @property
    def kind(self):
        return "_".join(self.name.split("_")[:2])

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
]
BY_NAME = {mistake.name: mistake for mistake in MISTAKES}
KINDS = ["conv_forward", "conv_backward", "pool_forward", "pool_backward"]



def _inputs(kind, case):
    """The keyword arguments of the ``*_output`` functions of ``kind`` (see the module docstring), from a case."""
    if kind.startswith("conv"):
        k, stride = case["weights"].shape[1], int(case["stride"])
        return ({"x": case["x"], "weights": case["weights"], "stride": stride} if kind == "conv_forward" else
                {"x": case["x"], "grad_output": case["grad_output"], "k": k, "stride": stride})
    k = int(case["k"])
    return {"x": case["x"], "k": k} if kind == "pool_forward" else \
        {"x": case["x"], "grad_output": case["grad_output"], "k": k}


def signatures(kind, case):
    """{"mistake/<name>": output, "cause/<name>": sentence} for every mistake of ``kind`` whose output on ``case``
    differs from the correct one (``case["expected_out"]`` for a forward kind, ``case["expected_grad"]`` for a
    backward one), in the registry's order: what :func:`cnnkit.known_mistakes.diagnose` reads."""
    correct = case["expected_out"] if kind.endswith("forward") else case["expected_grad"]
    found = {}
    for mistake in MISTAKES:
        if mistake.kind == kind:
            wrong = mistake.output(**_inputs(kind, case))
            if wrong.shape != correct.shape or not np.allclose(wrong, correct, rtol=RTOL, atol=ATOL):
                found[f"mistake/{mistake.name}"], found[f"cause/{mistake.name}"] = wrong, mistake.cause
    return found
