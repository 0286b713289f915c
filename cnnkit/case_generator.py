"""Random test cases for the graded tests, drawn from a seed, with their expected outputs.

Inputs, weights and upstream gradients are drawn at random (or built to tell typical mistakes
apart: asymmetric filters, batches larger than one, strides whose last windows do not fit,
negative values, tied maxima away from the top-left corner); the expected outputs come from
:mod:`cnnkit.oracle`, which is independent of the reference notebooks.

Two users: ``autograder/hidden_cases.py`` draws the real hidden cases from the instructor's private
seed, and the hidden blocks of the notebooks' test cells run the cases of :data:`KERNEL_SEED`, a
public seed, inside the student's kernel (see :mod:`cnnkit.hidden_tests`).
"""

import numpy as np

from cnnkit import oracle

KERNEL_SEED = 2026  # public: what the test cells run in the student's kernel; never the instructor's seed


def _conv(rng, n, f, h, w, k, s, integer_weights=False):
    """One conv case: x (n, 1, h, w), asymmetric weights (f, k, k), grad_output, expected out and dW."""
    x = rng.normal(size=(n, 1, h, w))
    weights = rng.integers(-4, 5, size=(f, k, k)).astype(float) if integer_weights else rng.normal(size=(f, k, k))
    grad_output = rng.normal(size=(n, f, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s)))
    return {"x": x, "weights": weights, "stride": np.array(s), "grad_output": grad_output,
            "expected_out": oracle.conv_forward(x, weights, s),
            "expected_grad": oracle.conv_weight_grad(x, grad_output, k, s)}


def _pool(rng, n, c, h, w, k, ties=False):
    """One pooling case: x (n, c, h, w), grad_output, expected out and dL/dx.

    With ties, x holds small integers (most windows have several maxima, often not at the top-left);
    otherwise distinct normal values, negative ones included.
    """
    x = rng.integers(-2, 2, size=(n, c, h, w)).astype(float) if ties else rng.normal(size=(n, c, h, w))
    grad_output = rng.normal(size=(n, c, h // k, w // k))
    return {"x": x, "k": np.array(k), "grad_output": grad_output, "expected_out": oracle.maxpool_forward(x, k),
            "expected_grad": oracle.maxpool_backward(x, grad_output, k)}


def _tie_pattern_case(rng):
    """2x2 windows with two tied maxima, never at the top-left: at (0, 1) and (1, 0), or at (1, 0) and (1, 1)."""
    x = rng.normal(size=(2, 2, 5, 7)) - 5  # the tied maxima below are 0, far above every other value
    for n, c, p, q in np.ndindex(2, 2, 2, 3):
        window = x[n, c, 2 * p:2 * p + 2, 2 * q:2 * q + 2]
        window[[(0, 1), (1, 1)][(p + q) % 2], [(1, 0), (0, 1)][(p + q) % 2]] = 0.0
    grad_output = rng.normal(size=(2, 2, 2, 3))
    return {"x": x, "k": np.array(2), "grad_output": grad_output, "expected_out": oracle.maxpool_forward(x, 2),
            "expected_grad": oracle.maxpool_backward(x, grad_output, 2)}


def generate(seed):
    """{test name: [case dict, ...]} for every graded test cell."""
    rng = np.random.default_rng(seed)
    return {
        "conv_views": [_conv(rng, 2, 2, 5, 6, 3, 1), _conv(rng, 1, 2, 9, 7, 3, 2), _conv(rng, 3, 2, 10, 8, 2, 3)],
        "conv_forward_stride1": [_conv(rng, 3, 4, 7, 9, 3, 1), _conv(rng, 2, 2, 6, 6, 5, 1),
                                 _conv(rng, 2, 3, 5, 7, 2, 1, integer_weights=True)],
        "conv_forward_strided": [_conv(rng, 2, 3, 8, 11, 3, 2), _conv(rng, 3, 2, 10, 7, 2, 3),
                                 _conv(rng, 2, 2, 9, 12, 4, 2, integer_weights=True)],
        "conv_backward_stride1": [_conv(rng, 4, 3, 6, 7, 3, 1), _conv(rng, 2, 5, 5, 5, 2, 1)],
        "conv_backward_strided": [_conv(rng, 3, 2, 9, 8, 3, 2), _conv(rng, 2, 3, 11, 10, 3, 3)],
        "conv_batch_of_one": [_conv(rng, 1, 4, 7, 9, 3, 1), _conv(rng, 3, 1, 6, 5, 2, 1), _conv(rng, 1, 1, 8, 7, 2, 1)],
        "pool_views": [_pool(rng, 2, 3, 7, 9, 2), _pool(rng, 1, 2, 8, 10, 3), _pool(rng, 2, 1, 9, 9, 4)],
        "pool_forward": [_pool(rng, 2, 3, 7, 9, 2), _pool(rng, 1, 2, 8, 10, 3), _pool(rng, 3, 1, 9, 13, 4)],
        "pool_backward": [_pool(rng, 2, 2, 6, 9, 2), _pool(rng, 1, 1, 7, 8, 3), _pool(rng, 2, 3, 9, 8, 4)],
        "pool_backward_ties": [_pool(rng, 2, 3, 7, 8, 2, ties=True), _pool(rng, 1, 2, 9, 7, 3, ties=True),
                               _tie_pattern_case(rng)],
    }
