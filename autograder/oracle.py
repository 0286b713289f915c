"""Independent implementations of the graded layers, used as the oracle by checks and tests.

They are written differently from the notebooks on purpose (SciPy's correlate2d and convolve2d, strided slices
instead of a sliding-window loop), so that a mistake in one is unlikely to be repeated in the other. The general
layers (several input channels, zero padding, a bias, the gradient with respect to the input; max pooling with any
stride, overlapping windows included) are checked against CS231n's published arrays, numerical gradients and
PyTorch (tests/test_oracle.py); notebooks 1 and 2's layers are their special cases.
"""

import numpy as np
from scipy.signal import convolve2d, correlate2d


def conv_output_size(size, k, s):
    """Number of k-wide windows with step s that fit in ``size``: (size - k) // s + 1."""
    return (size - k) // s + 1


def conv_forward(x, weights, stride):
    """:func:`conv2d` of one input channel, without padding or bias (notebook 1's layer).

    :param x: (N, 1, H, W) input.
    :param weights: (F, k, k) filters.
    :returns: (N, F, H_out, W_out) with H_out = (H - k) // s + 1.
    """
    return conv2d(x, weights[:, None], np.zeros(len(weights)), stride)


def conv_weight_grad(x, grad_output, k, stride):
    """dL/dweights of :func:`conv_forward`, summed over the batch.

    dW[f, a, b] = sum_{n,p,q} grad_output[n, f, p, q] * x[n, 0, s p + a, s q + b], i.e. the
    correlation of x with grad_output spread out by the stride (zeros in between).

    :param x: (N, 1, H, W) input.
    :param grad_output: (N, F, H_out, W_out) upstream gradient.
    :returns: (F, k, k).
    """
    return _weight_grad(x, _spread(grad_output, stride), k)[:, 0]


def conv2d(x, weights, bias, stride=1, padding=0):
    """Cross-correlation over every input channel, with zero padding and a bias.

    :param x: (N, C, H, W) input.
    :param weights: (F, C, k, k) filters.
    :param bias: (F,).
    :returns: (N, F, H_out, W_out) with H_out = (H + 2 padding - k) // stride + 1.
    """
    padded = _pad(x, padding)
    return np.array([[sum(correlate2d(image[c], w[c], mode="valid") for c in range(len(w)))[::stride, ::stride] + b
                      for w, b in zip(weights, bias)] for image in padded])


def conv2d_backward(x, weights, grad_output, stride=1, padding=0):
    """The gradients of :func:`conv2d`, summed over the batch.

    The upstream gradient is spread out by the stride (zeros in between); then dW is the correlation of the padded
    input with it, and dx the *full convolution* (flipped filter) of it with the filter, cropped by the padding.

    :param grad_output: (N, F, H_out, W_out).
    :returns: {"x": (N, C, H, W), "weights": (F, C, k, k), "bias": (F,)}.
    """
    n, c, h, w = x.shape
    k = weights.shape[-1]
    spread = _spread(grad_output, stride)
    padded = _pad(x, padding)
    d_weights = _weight_grad(padded, spread, k)
    d_padded = np.zeros(padded.shape)
    rows, cols = spread.shape[2] + k - 1, spread.shape[3] + k - 1  # what some window covers; the rest gets 0
    for i in range(n):
        for j in range(c):
            d_padded[i, j, :rows, :cols] = sum(
                convolve2d(spread[i, f], weights[f, j], mode="full") for f in range(len(weights)))
    d_x = d_padded[:, :, padding:padding + h, padding:padding + w]
    return {"x": d_x, "weights": d_weights, "bias": grad_output.sum(axis=(0, 2, 3))}


def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def _weight_grad(padded, spread, k):
    """(F, C, k, k): the correlation of the (padded) input (N, C, H, W) with the spread upstream gradient
    (N, F, ., .), summed over the batch."""
    n, c = padded.shape[:2]
    return np.array([[sum(correlate2d(padded[i, j], spread[i, f], mode="valid")[:k, :k] for i in range(n))
                      for j in range(c)] for f in range(spread.shape[1])])


def _spread(grad_output, stride):
    """(N, F, H_out, W_out) -> (N, F, (H_out - 1) stride + 1, ...): the values stride apart, zeros between."""
    n, f, h_out, w_out = grad_output.shape
    spread = np.zeros((n, f, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
    spread[:, :, ::stride, ::stride] = grad_output
    return spread


def pool_windows(x, k):
    """(N, C, H, W) -> (N, C, H // k, W // k, k * k): each non-overlapping window, flattened row-major."""
    n, c, h, w = x.shape
    h_out, w_out = h // k, w // k
    blocks = x[:, :, :h_out * k, :w_out * k].reshape(n, c, h_out, k, w_out, k)
    return blocks.transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h_out, w_out, k * k)


def from_pool_windows(windows, shape, k):
    """Inverse of :func:`pool_windows`: (N, C, H // k, W // k, k * k) -> ``shape``, the dropped border zero."""
    n, c, h_out, w_out, _ = windows.shape
    x = np.zeros(shape)
    x[:, :, :h_out * k, :w_out * k] = (
        windows.reshape(n, c, h_out, w_out, k, k).transpose(0, 1, 2, 4, 3, 5).reshape(n, c, h_out * k, w_out * k)
    )
    return x


def maxpool_forward(x, k):
    """Max over non-overlapping k x k windows (:func:`maxpool2d_forward` with stride k); a border that does not
    fill a window is dropped.

    :param x: (N, C, H, W).
    :returns: (N, C, H // k, W // k).
    """
    return maxpool2d_forward(x, k, k)


def maxpool_backward(x, grad_output, k):
    """dL/dx of :func:`maxpool_forward`: each window's gradient goes to its first maximum (row-major).

    :param x: (N, C, H, W) input.
    :param grad_output: (N, C, H // k, W // k).
    :returns: (N, C, H, W), zero everywhere but at one element per window.
    """
    return maxpool2d_backward(x, grad_output, k, k)


def _window_elements(x_shape, k, stride):
    """For each offset (a, b) of a k x k window, in row-major order: the index of that element of every window
    (``stride`` apart) in an (N, C, H, W) array."""
    h_out, w_out = conv_output_size(x_shape[2], k, stride), conv_output_size(x_shape[3], k, stride)
    return [(slice(None), slice(None), slice(a, a + (h_out - 1) * stride + 1, stride),
             slice(b, b + (w_out - 1) * stride + 1, stride)) for a in range(k) for b in range(k)]


def pool_offsets(x, k, stride):
    """(k * k, N, C, H_out, W_out): for each offset (a, b) of a window, in row-major order, that element of every
    window, with H_out = (H - k) // stride + 1."""
    return np.array([x[index] for index in _window_elements(x.shape, k, stride)])


def maxpool2d_forward(x, k, stride):
    """Max over k x k windows ``stride`` apart (overlapping when stride < k); windows that do not fit are dropped.

    :param x: (N, C, H, W).
    :returns: (N, C, H_out, W_out), H_out = (H - k) // stride + 1.
    """
    return pool_offsets(x, k, stride).max(axis=0)


def maxpool2d_backward(x, grad_output, k, stride):
    """dL/dx of :func:`maxpool2d_forward`: each window's gradient goes to its first maximum (row-major), and the
    gradients of overlapping windows that share an element add up.

    :returns: (N, C, H, W).
    """
    first = pool_offsets(x, k, stride).argmax(axis=0)  # argmax returns the first of tied maxima
    d_x = np.zeros(x.shape)
    for offset, index in enumerate(_window_elements(x.shape, k, stride)):
        d_x[index] += np.where(first == offset, grad_output, 0.0)
    return d_x
