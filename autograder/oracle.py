"""Independent implementations of the graded layers, used as the oracle by checks and tests.

They are written differently from the notebooks on purpose (SciPy's correlate2d and reshapes
instead of a sliding-window loop), so that a mistake in one is unlikely to be repeated in the other.
"""

import numpy as np
from scipy.signal import correlate2d


def conv_output_size(size, k, s):
    """Number of k-wide windows with step s that fit in ``size``: (size - k) // s + 1."""
    return (size - k) // s + 1


def conv_forward(x, weights, stride):
    """Cross-correlation without padding or bias.

    :param x: (N, 1, H, W) input.
    :param weights: (F, k, k) filters.
    :param stride: step s between windows.
    :returns: (N, F, H_out, W_out) with H_out = (H - k) // s + 1.
    """
    return np.array([[correlate2d(image[0], w, mode="valid")[::stride, ::stride] for w in weights] for image in x])


def conv_weight_grad(x, grad_output, k, stride):
    """dL/dweights of :func:`conv_forward`, summed over the batch.

    dW[f, a, b] = sum_{n,p,q} grad_output[n, f, p, q] * x[n, 0, s p + a, s q + b], i.e. the
    correlation of x with grad_output spread out by the stride (zeros in between).

    :param x: (N, 1, H, W) input.
    :param grad_output: (N, F, H_out, W_out) upstream gradient.
    :returns: (F, k, k).
    """
    n, f, h_out, w_out = grad_output.shape
    spread = np.zeros((n, f, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
    spread[:, :, ::stride, ::stride] = grad_output
    return np.array([
        sum(correlate2d(x[i, 0], spread[i, j], mode="valid")[:k, :k] for i in range(n)) for j in range(f)
    ])


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
    """Max over non-overlapping k x k windows; a border that does not fill a window is dropped.

    :param x: (N, C, H, W).
    :returns: (N, C, H // k, W // k).
    """
    return pool_windows(x, k).max(axis=-1)


def maxpool_backward(x, grad_output, k):
    """dL/dx of :func:`maxpool_forward`: each window's gradient goes to its first maximum (row-major).

    :param x: (N, C, H, W) input.
    :param grad_output: (N, C, H // k, W // k).
    :returns: (N, C, H, W), zero everywhere but at one element per window.
    """
    windows = pool_windows(x, k)
    one_hot = np.zeros(windows.shape)
    np.put_along_axis(one_hot, windows.argmax(axis=-1)[..., None], grad_output[..., None], axis=-1)
    return from_pool_windows(one_hot, x.shape, k)
