"""Known mistakes: what a typical wrong implementation outputs, and how to recognise it.

Each ``*_output`` function computes, from the oracle and independently of any student code, the
output of one typical wrong layer. :func:`diagnose` compares a student's output with each of them
and returns the likely cause as one sentence.

Keyword arguments, by kind (shapes as in :mod:`cnnkit.oracle`):

- ``"conv_forward"``: x (N, 1, H, W), weights (F, k, k), stride; output (N, F, H_out, W_out).
- ``"conv_backward"``: x (N, 1, H, W), grad_output (N, F, H_out, W_out), k, stride; output (F, k, k).
- ``"pool_forward"``: x (N, C, H, W), k; output (N, C, H // k, W // k).
- ``"pool_backward"``: x (N, C, H, W), grad_output (N, C, H // k, W // k), k; output (N, C, H, W).
"""

import numpy as np

from cnnkit import oracle

RTOL, ATOL = 1e-7, 1e-9  # a student's output "is" a mistake's output when this close to it


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


CORRECT = {
    "conv_forward": oracle.conv_forward,
    "conv_backward": oracle.conv_weight_grad,
    "pool_forward": oracle.maxpool_forward,
    "pool_backward": oracle.maxpool_backward,
}

MISTAKES = {
    "conv_forward": [
        (conv_forward_flipped_output,
         "the kernel is flipped (a true convolution): the layer computes a cross-correlation, "
         "out[i, j] = sum over a, b of x[i + a, j + b] * w[a, b], without flipping w."),
        (conv_forward_at_input_index_output,
         "the output is written at the input index (i, j) of the window; it belongs at the output index "
         "(i // stride, j // stride)."),
    ],
    "conv_backward": [
        (conv_backward_ignoring_stride_output,
         "the gradient ignores the stride: the window of output (p, q) starts at x[stride * p, stride * q], "
         "not at x[p, q]; loop over the same views as forward."),
        (conv_backward_averaged_output,
         "the gradient is averaged over the batch (divided by N); it must be summed, since any 1/N of the loss "
         "is already in grad_output."),
        (conv_backward_flipped_output,
         "the gradient is flipped, as for a true convolution; the layer computes a cross-correlation, so "
         "dW[f] is the sum of grad_output[n, f, p, q] * (the window of output (p, q)), without flipping."),
    ],
    "pool_forward": [
        (pool_forward_average_output,
         "this is average pooling: each output must be the maximum of its window (np.max), not the mean."),
        (pool_forward_at_input_index_output,
         "the output is written at the input index (i, j) of the window; it belongs at the output index "
         "(i // k, j // k)."),
    ],
    "pool_backward": [
        (pool_backward_every_tied_max_output,
         "the gradient goes to every tied maximum of a window; it must go to the first maximum only "
         "(row-major order, np.argmax of the flattened window)."),
        (pool_backward_last_max_output,
         "the gradient goes to the last maximum of a window; it must go to the first one in row-major order "
         "(np.argmax of the flattened window returns it)."),
        (pool_backward_average_output,
         "this is the gradient of average pooling (grad_output / k^2 everywhere in the window); max pooling "
         "sends the whole gradient to the window's maximum and zero to the other elements."),
    ],
}


def diagnose(kind, actual, **inputs):
    """The likely cause of a wrong ``actual`` output, as one sentence, or None if no known mistake matches.

    A mistake matches when its output differs from the correct one and ``actual`` is close to it.

    :param kind: "conv_forward", "conv_backward", "pool_forward" or "pool_backward".
    :param actual: the student's output.
    :param inputs: the keyword arguments of that kind (see the module docstring).
    """
    if not isinstance(actual, np.ndarray) or not np.issubdtype(actual.dtype, np.number):
        return None
    correct = CORRECT[kind](**inputs)
    for wrong_output, cause in MISTAKES[kind]:
        wrong = wrong_output(**inputs)
        if (wrong.shape == actual.shape and not np.allclose(wrong, correct, rtol=RTOL, atol=ATOL)
                and np.allclose(actual, wrong, rtol=RTOL, atol=ATOL)):
            return cause
    return None
