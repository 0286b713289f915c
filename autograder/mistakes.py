"""Known mistakes: what a typical wrong implementation outputs (its signature), computed from the oracle.

Each ``*_output`` function computes, independently of any student code, the output of one typical
wrong layer. :func:`signatures` stores them in a case as data, ``mistake/<name>``, where the student
package's :mod:`cnnkit.known_mistakes` recognises them and names the cause; the names here and the
causes there are the same list.

Keyword arguments, by kind (shapes as in :mod:`autograder.oracle`):

- ``"conv_forward"``: x (N, 1, H, W), weights (F, k, k), stride; output (N, F, H_out, W_out).
- ``"conv_backward"``: x (N, 1, H, W), grad_output (N, F, H_out, W_out), k, stride; output (F, k, k).
- ``"pool_forward"``: x (N, C, H, W), k; output (N, C, H // k, W // k).
- ``"pool_backward"``: x (N, C, H, W), grad_output (N, C, H // k, W // k), k; output (N, C, H, W).
"""

import numpy as np

from autograder import oracle
from cnnkit.known_mistakes import ATOL, RTOL

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


OUTPUTS = {  # name (as in cnnkit.known_mistakes.CAUSES) -> the wrong output, from the kind's inputs
    "conv_forward_flipped": conv_forward_flipped_output,
    "conv_forward_at_input_index": conv_forward_at_input_index_output,
    "conv_backward_ignoring_stride": conv_backward_ignoring_stride_output,
    "conv_backward_averaged": conv_backward_averaged_output,
    "conv_backward_flipped": conv_backward_flipped_output,
    "pool_forward_average": pool_forward_average_output,
    "pool_forward_at_input_index": pool_forward_at_input_index_output,
    "pool_backward_every_tied_max": pool_backward_every_tied_max_output,
    "pool_backward_last_max": pool_backward_last_max_output,
    "pool_backward_average": pool_backward_average_output,
}


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
    """{"mistake/<name>": output} for every known mistake of ``kind`` whose output on ``case`` differs from the
    correct one (``case["expected_out"]`` for a forward kind, ``case["expected_grad"]`` for a backward one)."""
    correct = case["expected_out"] if kind.endswith("forward") else case["expected_grad"]
    found = {}
    for name, wrong_output in OUTPUTS.items():
        if name.startswith(kind + "_"):
            wrong = wrong_output(**_inputs(kind, case))
            if wrong.shape != correct.shape or not np.allclose(wrong, correct, rtol=RTOL, atol=ATOL):
                found[f"mistake/{name}"] = wrong
    return found
