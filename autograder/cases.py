"""Every test case of the course, with its expected outputs: the visible ones that ship with the notebooks, the ones
the graded cells run in the grading kernel, and the instructor's hidden ones.

Inputs, weights and upstream gradients are hand-made (small, hand-checkable) or drawn from seeds (and built
to tell typical mistakes apart: asymmetric filters, batches larger than one, strides whose last windows do
not fit, negative values, tied maxima away from the top-left corner); the expected outputs come from
:mod:`autograder.oracle`, which is independent of the reference notebooks.

Three files, all in the format of :mod:`cnnkit.casefile`, none of which can compute an answer:

- :func:`visible`, written to ``cnnkit/visible_cases.npz`` by ``make release``: what the visible checks of the
  hand-out compare with, with the signatures of the known mistakes (:mod:`autograder.mistakes`);
- :func:`kernel`, written to ``autograder/runner/kernel_cases.npz``: what the hidden blocks of the test cells run
  in the grading kernel (see :mod:`autograder.runner.hidden_tests`), drawn from the public :data:`KERNEL_SEED`;
- :func:`generate` from the instructor's private seed, written by ``autograder/hidden_cases.py``: read only by
  the grader, outside the sandbox.
"""

import zlib
from pathlib import Path

import numpy as np

from autograder import mistakes, oracle
from autograder.runner import hidden_tests
from cnnkit import casefile, checks

KERNEL_SEED = 2026  # public: what the test cells run in the student's kernel; never the instructor's seed


def _conv(rng, n, f, h, w, k, s, integer_weights=False):
    """One conv case: x (n, 1, h, w), asymmetric weights (f, k, k), grad_output, expected out and dW."""
    x = rng.normal(size=(n, 1, h, w))
    weights = rng.integers(-4, 5, size=(f, k, k)).astype(float) if integer_weights else rng.normal(size=(f, k, k))
    grad_output = rng.normal(size=(n, f, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s)))
    return _conv_expected(x, weights, s, grad_output)


def _pool(rng, n, c, h, w, k, ties=False):
    """One pooling case: x (n, c, h, w), grad_output, expected out and dL/dx.

    With ties, x holds small integers (most windows have several maxima, often not at the top-left);
    otherwise distinct normal values, negative ones included.
    """
    x = rng.integers(-2, 2, size=(n, c, h, w)).astype(float) if ties else rng.normal(size=(n, c, h, w))
    return _pool_expected(x, k, rng.normal(size=(n, c, h // k, w // k)))


def _tie_pattern_case(rng):
    """2x2 windows with two tied maxima, never at the top-left: at (0, 1) and (1, 0), or at (1, 0) and (1, 1)."""
    x = rng.normal(size=(2, 2, 5, 7)) - 5  # the tied maxima below are 0, far above every other value
    for n, c, p, q in np.ndindex(2, 2, 2, 3):
        window = x[n, c, 2 * p:2 * p + 2, 2 * q:2 * q + 2]
        window[[(0, 1), (1, 1)][(p + q) % 2], [(1, 0), (0, 1)][(p + q) % 2]] = 0.0
    return _pool_expected(x, 2, rng.normal(size=(2, 2, 2, 3)))


def _conv2d(rng, n, c, f, h, w, k, s, p, integer_weights=False):
    """One case of notebook 04's conv layer: x (n, c, h, w), weights (f, c, k, k), bias (f,), stride s, padding p,
    grad_output, and the oracle's output and three gradients."""
    x = rng.normal(size=(n, c, h, w))
    weights = rng.integers(-4, 5, size=(f, c, k, k)).astype(float) if integer_weights else rng.normal(size=(f, c, k, k))
    shape = (n, f, oracle.conv_output_size(h + 2 * p, k, s), oracle.conv_output_size(w + 2 * p, k, s))
    return _conv2d_expected(x, weights, rng.normal(size=f), s, p, rng.normal(size=shape))


def _conv2d_expected(x, weights, bias, stride, padding, grad_output, label=None):
    """A conv2d case dict: the inputs, the oracle's output and gradients, and a label when given."""
    grads = oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    case = {"x": x, "weights": weights, "bias": bias, "stride": np.array(stride), "padding": np.array(padding),
            "grad_output": grad_output, "expected_out": oracle.conv2d(x, weights, bias, stride, padding),
            **{f"expected_grad_{name}": grads[name] for name in ("x", "weights", "bias")}}
    return case if label is None else {"label": label, **case}


def _pool2d(rng, n, c, h, w, k, s, ties=False):
    """One case of notebook 04's pooling layer (k x k windows, stride s): with ties, small integers."""
    x = rng.integers(-2, 2, size=(n, c, h, w)).astype(float) if ties else rng.normal(size=(n, c, h, w))
    shape = (n, c, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s))
    return _pool2d_expected(x, k, s, rng.normal(size=shape))


def _pool2d_expected(x, k, stride, grad_output, label=None):
    """A pool2d case dict: the inputs, the oracle's output and input gradient, and a label when given."""
    case = {"x": x, "k": np.array(k), "stride": np.array(stride), "grad_output": grad_output,
            "expected_out": oracle.maxpool2d_forward(x, k, stride),
            "expected_grad": oracle.maxpool2d_backward(x, grad_output, k, stride)}
    return case if label is None else {"label": label, **case}


def _conv_expected(x, weights, stride, grad_output, label=None):
    """A conv case dict: the inputs, the oracle's output and weight gradient, and a label when given."""
    case = {"x": x, "weights": weights, "stride": np.array(stride), "grad_output": grad_output,
            "expected_out": oracle.conv_forward(x, weights, stride),
            "expected_grad": oracle.conv_weight_grad(x, grad_output, weights.shape[1], stride)}
    return case if label is None else {"label": label, **case}


def _pool_expected(x, k, grad_output, label=None):
    """A pooling case dict: the inputs, the oracle's output and input gradient, and a label when given."""
    case = {"x": x, "k": np.array(k), "grad_output": grad_output, "expected_out": oracle.maxpool_forward(x, k),
            "expected_grad": oracle.maxpool_backward(x, grad_output, k)}
    return case if label is None else {"label": label, **case}


def _conv2d_configurations(rng):
    """Channels and filters; a 1x1 filter; padding; strides whose last windows do not fit; both at once."""
    return [_conv2d(rng, 2, 3, 2, 6, 7, 3, 1, 0), _conv2d(rng, 3, 2, 3, 5, 5, 1, 1, 0),
            _conv2d(rng, 2, 2, 2, 6, 5, 3, 1, 1), _conv2d(rng, 2, 3, 2, 9, 8, 3, 2, 0),
            _conv2d(rng, 2, 2, 3, 8, 10, 4, 3, 2)]


def _pool2d_configurations(rng):
    """Overlapping windows (3x3 stride 2 and 1, 2x2 stride 1), windows that tile (stride k), borders dropped."""
    return [_pool2d(rng, 2, 3, 7, 9, 3, 2), _pool2d(rng, 1, 2, 6, 7, 3, 1), _pool2d(rng, 2, 2, 5, 6, 2, 1),
            _pool2d(rng, 2, 2, 7, 9, 2, 2)]


DRAWN = {  # graded test -> its cases, drawn from the generator given
    "conv_views": lambda rng: [_conv(rng, 2, 2, 5, 6, 3, 1), _conv(rng, 1, 2, 9, 7, 3, 2),
                               _conv(rng, 3, 2, 10, 8, 2, 3)],
    "conv_forward_stride1": lambda rng: [_conv(rng, 3, 4, 7, 9, 3, 1), _conv(rng, 2, 2, 6, 6, 5, 1),
                                         _conv(rng, 2, 3, 5, 7, 2, 1, integer_weights=True)],
    "conv_forward_strided": lambda rng: [_conv(rng, 2, 3, 8, 11, 3, 2), _conv(rng, 3, 2, 10, 7, 2, 3),
                                         _conv(rng, 2, 2, 9, 12, 4, 2, integer_weights=True)],
    "conv_backward_stride1": lambda rng: [_conv(rng, 4, 3, 6, 7, 3, 1), _conv(rng, 2, 5, 5, 5, 2, 1)],
    "conv_backward_strided": lambda rng: [_conv(rng, 3, 2, 9, 8, 3, 2), _conv(rng, 2, 3, 11, 10, 3, 3)],
    "conv_batch_of_one": lambda rng: [_conv(rng, 1, 4, 7, 9, 3, 1), _conv(rng, 3, 1, 6, 5, 2, 1),
                                      _conv(rng, 1, 1, 8, 7, 2, 1)],
    "pool_views": lambda rng: [_pool(rng, 2, 3, 7, 9, 2), _pool(rng, 1, 2, 8, 10, 3), _pool(rng, 2, 1, 9, 9, 4)],
    "pool_forward": lambda rng: [_pool(rng, 2, 3, 7, 9, 2), _pool(rng, 1, 2, 8, 10, 3), _pool(rng, 3, 1, 9, 13, 4)],
    "pool_backward": lambda rng: [_pool(rng, 2, 2, 6, 9, 2), _pool(rng, 1, 1, 7, 8, 3), _pool(rng, 2, 3, 9, 8, 4)],
    "pool_backward_ties": lambda rng: [_pool(rng, 2, 3, 7, 8, 2, ties=True), _pool(rng, 1, 2, 9, 7, 3, ties=True),
                                       _tie_pattern_case(rng)],
    # notebook 04: (n, c, f, h, w, k, stride, padding) for the conv layers, (n, c, h, w, k, stride) for pooling
    "conv2d_forward": lambda rng: [_conv2d(rng, 2, 3, 4, 7, 6, 3, 1, 0), _conv2d(rng, 3, 2, 2, 5, 8, 2, 1, 0),
                                   _conv2d(rng, 2, 4, 3, 6, 5, 1, 1, 0, integer_weights=True)],
    "conv2d_forward_padding_stride": lambda rng: [_conv2d(rng, 2, 2, 3, 6, 7, 3, 1, 1),
                                                  _conv2d(rng, 2, 3, 2, 8, 9, 3, 2, 1),
                                                  _conv2d(rng, 1, 2, 2, 9, 7, 4, 3, 2)],
    "conv2d_backward_params": lambda rng: _conv2d_configurations(rng),
    "conv2d_backward_input": lambda rng: _conv2d_configurations(rng),
    "conv2d_batch_of_one": lambda rng: [_conv2d(rng, 1, 1, 1, 6, 5, 3, 1, 1), _conv2d(rng, 1, 3, 1, 5, 6, 1, 1, 0),
                                        _conv2d(rng, 1, 1, 2, 7, 8, 3, 2, 1)],
    "pool2d_forward": lambda rng: _pool2d_configurations(rng),
    "pool2d_backward": lambda rng: _pool2d_configurations(rng) + [_pool2d(rng, 2, 2, 7, 8, 3, 2, ties=True)],
    "fastconv2d": lambda rng: _conv2d_configurations(rng),
}


def rng_of(seed, grade_id):
    """The generator of one test's cases, seeded from the course seed and the grade id (crc32: the same in every
    process and Python version), so that adding, removing or changing one test's cases changes no other test's."""
    return np.random.default_rng([seed, zlib.crc32(grade_id.encode())])


def generate(seed):
    """{test name: [case dict, ...]} for every graded test cell, each test drawn from its own :func:`rng_of`."""
    return {grade_id: draw(rng_of(seed, grade_id)) for grade_id, draw in DRAWN.items()}


# ---- the visible cases ------------------------------------------------------------------------------

def _seeded_conv(seed, n, f, h, w, k, s):
    """A conv case whose x, weights and grad_output are drawn from np.random.default_rng(seed)."""
    rng = np.random.default_rng(seed)
    x, weights = rng.normal(size=(n, 1, h, w)), rng.normal(size=(f, k, k))
    grad_output = rng.normal(size=(n, f, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s)))
    return _conv_expected(x, weights, s, grad_output, f"random case, seed {seed}")


def _hand_conv(stride):
    """Two small integer images, a filter that copies each window's top-left pixel and a 2x2 filter [[1, 2], [3, 4]],
    grad_output all ones. Stride 1: 3x4 images; stride 2: 5x7 images (last row and column dropped)."""
    h, w = (3, 4) if stride == 1 else (5, 7)
    x = np.zeros((2, 1, h, w))
    x[0, 0] = np.arange(h * w).reshape(h, w)
    x[1, 0, 0, 0], x[1, 0, 1, 2], x[1, 0, 2, 3] = 1, 2, 3
    weights = np.array([[[1.0, 0.0], [0.0, 0.0]], [[1.0, 2.0], [3.0, 4.0]]])
    shape = (2, 2, oracle.conv_output_size(h, 2, stride), oracle.conv_output_size(w, 2, stride))
    return _conv_expected(x, weights, stride, np.ones(shape), "hand-checkable case")


def _conv_visible():
    stride1 = [_hand_conv(1), _seeded_conv(1, 2, 3, 6, 5, 3, 1), _seeded_conv(2, 3, 2, 7, 6, 3, 1),
               _seeded_conv(3, 2, 4, 5, 4, 1, 1)]
    strided = [_hand_conv(2), _seeded_conv(4, 2, 3, 6, 8, 3, 2), _seeded_conv(5, 2, 2, 8, 7, 3, 3),
               _seeded_conv(6, 3, 2, 7, 11, 2, 3)]
    return {
        "conv_views": [stride1[0], strided[0], strided[1], strided[3]],  # strides 1, 2, 3; last windows dropped
        "conv_forward_stride1": stride1, "conv_forward_strided": strided,
        "conv_backward_stride1": stride1, "conv_backward_strided": strided,
        # batch 1 with 3 filters, batch 2 with 1 filter, batch 1 with 1 filter; stride 1
        "conv_batch_of_one": [_seeded_conv(7, 1, 3, 5, 6, 3, 1), _seeded_conv(8, 2, 1, 5, 6, 3, 1),
                              _seeded_conv(9, 1, 1, 6, 5, 2, 1)],
    }


HAND_POOL_X = np.array([[3, 17, 8, 1, 12],
                        [10, 0, 19, 5, 6],
                        [4, 14, 2, 11, 16],
                        [9, 7, 13, 18, 15]], dtype=float)  # 2x2 maxima: [[17, 19], [14, 18]]; last column dropped

HAND_TIES_K2 = np.array([[5, 5, 1, 7, 3, 2, 3],
                         [5, 5, 7, 0, 2, 3, 3],
                         [1, 4, 6, 2, 8, 8, 8],
                         [2, 4, 1, 5, 8, 0, 8],
                         [5, 7, 7, 6, 8, 8, 8]], dtype=float)
# 2x2 windows, row by row: all equal; two maxima on the anti-diagonal; two on the diagonal (first and last
# differ); two in the same column; no tie; three maxima. The dropped last row and column repeat window maxima.

HAND_TIES_K3 = np.array([[[1, 2, 9, 0, 0, 0, 9],
                          [9, 0, 9, 0, 0, 0, 9],
                          [3, 9, 4, 0, 0, 0, 9],
                          [9, 9, 9, 0, 0, 0, 9]],
                         [[7, 7, 7, 0, 1, 0, 1],
                          [7, 7, 7, 1, 0, 1, 1],
                          [7, 7, 7, 0, 1, 0, 1],
                          [7, 7, 7, 1, 1, 1, 1]]], dtype=float)
# 3x3 windows: four maxima; all zero; all equal; four maxima in a checkerboard. Dropped border: last row and column.


def _seeded_pool(seed, n, c, h, w, k):
    """A pooling case drawn from np.random.default_rng(seed) (ties have probability 0)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    return _pool_expected(x, k, rng.normal(size=(n, c, h // k, w // k)), f"random case, seed {seed}")


def _pool_visible():
    """Without ties: k = 2, 3 and 4, k not always dividing the input size, the batch of one with one channel last;
    the hand-checkable case: two images with the channels HAND_POOL_X and 19 - HAND_POOL_X (swapped in the second),
    grad_output 1, 2, ..., 16. With ties: the hand-made windows above, then random small integers."""
    hand = np.array([[HAND_POOL_X, 19 - HAND_POOL_X], [19 - HAND_POOL_X, HAND_POOL_X]])
    no_ties = [_pool_expected(hand, 2, np.arange(1.0, 17.0).reshape(2, 2, 2, 2), "hand-checkable case"),
               _seeded_pool(20, 2, 3, 7, 8, 3), _seeded_pool(21, 3, 2, 6, 6, 2), _seeded_pool(22, 2, 2, 9, 10, 4),
               _seeded_pool(23, 1, 1, 5, 7, 2)]
    rng = np.random.default_rng(30)
    ties = [
        _pool_expected(np.array([[HAND_TIES_K2, HAND_TIES_K2 - 10], [HAND_TIES_K2 - 10, HAND_TIES_K2]]), 2,
                       np.arange(1.0, 25.0).reshape(2, 2, 2, 3),
                       "ties, hand-checkable: all equal, two or three maxima, border equal to the maxima"),
        _pool_expected(np.array([HAND_TIES_K3, HAND_TIES_K3[::-1]]), 3, np.arange(1.0, 9.0).reshape(2, 2, 1, 2),
                       "ties, hand-checkable 3x3 windows: several maxima, all equal, all zero"),
        _pool_expected(rng.integers(0, 3, size=(2, 3, 6, 7)).astype(float), 2, rng.normal(size=(2, 3, 3, 3)),
                       "ties, random small integers, seed 30"),
    ]
    return {"pool_views": no_ties, "pool_forward": no_ties, "pool_backward": no_ties, "pool_backward_ties": ties}


def _seeded_conv2d(seed, n, c, f, h, w, k, s, p):
    """A notebook-04 conv case whose x, weights, bias and grad_output are drawn from np.random.default_rng(seed)."""
    rng = np.random.default_rng(seed)
    x, weights, bias = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    shape = (n, f, oracle.conv_output_size(h + 2 * p, k, s), oracle.conv_output_size(w + 2 * p, k, s))
    return _conv2d_expected(x, weights, bias, s, p, rng.normal(size=shape), f"random case, seed {seed}")


def _hand_conv2d(padding):
    """Two 3x4 images of two channels (small integers; the second image holds the first's channels swapped); filter
    0 adds the top-left pixels of both channels, filter 1 is [[1, 2], [3, 4]] on channel 0 and [[0, 0], [0, -1]]
    on channel 1; bias (0.5, -1); stride 1; grad_output all ones."""
    x = np.zeros((2, 2, 3, 4))
    x[0, 0] = np.arange(12.0).reshape(3, 4)
    x[0, 1, 0, 0], x[0, 1, 2, 3] = 1.0, 2.0
    x[1] = x[0, ::-1]
    weights = np.zeros((2, 2, 2, 2))
    weights[0, :, 0, 0] = 1.0
    weights[1, 0], weights[1, 1, 1, 1] = [[1.0, 2.0], [3.0, 4.0]], -1.0
    shape = (2, 2, 3 + 2 * padding - 1, 4 + 2 * padding - 1)
    return _conv2d_expected(x, weights, np.array([0.5, -1.0]), 1, padding, np.ones(shape), "hand-checkable case")


def _conv2d_visible():
    plain = [_hand_conv2d(0), _seeded_conv2d(41, 2, 3, 4, 6, 5, 3, 1, 0), _seeded_conv2d(42, 3, 2, 2, 5, 7, 2, 1, 0),
             _seeded_conv2d(43, 2, 4, 3, 5, 4, 1, 1, 0)]
    padded_strided = [_hand_conv2d(1), _seeded_conv2d(44, 2, 3, 2, 6, 7, 3, 1, 1),
                      _seeded_conv2d(45, 2, 2, 3, 7, 8, 3, 2, 1), _seeded_conv2d(46, 1, 3, 2, 8, 9, 4, 3, 2),
                      _seeded_conv2d(47, 2, 2, 2, 7, 6, 3, 2, 0)]
    # batch 1 with 1 channel and 1 filter (padded); with 3 channels and a 1x1 filter; with 2 filters, stride 2
    batch_of_one = [_seeded_conv2d(48, 1, 1, 1, 6, 5, 3, 1, 1), _seeded_conv2d(49, 1, 3, 1, 5, 6, 1, 1, 0),
                    _seeded_conv2d(50, 1, 1, 2, 7, 8, 3, 2, 1)]
    return {"conv2d_forward": plain, "conv2d_forward_padding_stride": padded_strided,
            "conv2d_backward_params": plain + padded_strided, "conv2d_backward_input": plain + padded_strided,
            "conv2d_batch_of_one": batch_of_one, "fastconv2d": plain + padded_strided + batch_of_one}


HAND_OVERLAP = np.array([[1, 0, 2, 0, 1],
                         [0, 3, 0, 4, 0],
                         [2, 0, 9, 0, 2],
                         [0, 5, 0, 6, 0],
                         [1, 0, 2, 0, 1]], dtype=float)  # 3x3 windows, stride 2: the 9 is the maximum of all four


def _seeded_pool2d(seed, n, c, h, w, k, s):
    """A notebook-04 pooling case drawn from np.random.default_rng(seed) (ties have probability 0)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, h, w))
    shape = (n, c, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s))
    return _pool2d_expected(x, k, s, rng.normal(size=shape), f"random case, seed {seed}")


def _pool2d_visible():
    """The hand-checkable case: one image whose channels are HAND_OVERLAP (the centre is the maximum of the four
    overlapping windows, so it receives 1 + 2 + 3 + 4) and 0, 1, ..., 24 row by row (each window's maximum in its
    bottom-right corner, none shared); then random ones, windows overlapping or not; for backward, random small
    integers too (ties and overlaps at once)."""
    hand = _pool2d_expected(np.array([[HAND_OVERLAP, np.arange(25.0).reshape(5, 5)]]), 3, 2,
                            np.arange(1.0, 9.0).reshape(1, 2, 2, 2), "hand-checkable case")
    cases = [hand, _seeded_pool2d(60, 2, 3, 7, 9, 3, 2), _seeded_pool2d(61, 1, 2, 6, 7, 3, 1),
             _seeded_pool2d(62, 2, 2, 5, 6, 2, 1), _seeded_pool2d(63, 2, 2, 7, 9, 2, 2)]
    rng = np.random.default_rng(70)
    ties = _pool2d_expected(rng.integers(0, 3, size=(2, 2, 6, 7)).astype(float), 3, 1, rng.normal(size=(2, 2, 4, 5)),
                            "ties and overlaps, random small integers, seed 70")
    return {"pool2d_forward": cases, "pool2d_backward": cases + [ties]}


# ---- what the checks need besides inputs and expected outputs -----------------------------------------

CONV2D_BACKWARD = ["conv2d_backward_x", "conv2d_backward_weights", "conv2d_backward_bias"]
SIGNATURE_KINDS = {  # test -> the kinds of output whose known mistakes its cases carry
    "conv_forward_stride1": ["conv_forward"], "conv_forward_strided": ["conv_forward"],
    "conv_backward_stride1": ["conv_backward"], "conv_backward_strided": ["conv_backward"],
    "conv_batch_of_one": ["conv_forward", "conv_backward"],
    "pool_forward": ["pool_forward"], "pool_backward": ["pool_backward"], "pool_backward_ties": ["pool_backward"],
    "conv2d_forward": ["conv2d_forward"], "conv2d_forward_padding_stride": ["conv2d_forward"],
    "conv2d_backward_params": CONV2D_BACKWARD[1:], "conv2d_backward_input": CONV2D_BACKWARD[:1],
    "conv2d_batch_of_one": ["conv2d_forward", *CONV2D_BACKWARD], "fastconv2d": ["conv2d_forward", *CONV2D_BACKWARD],
    "pool2d_forward": ["pool2d_forward"], "pool2d_backward": ["pool2d_backward"],
}


def has_ties(x, k, stride=None):
    """Whether some k x k pooling window of x (N, C, H, W), ``stride`` apart (default k), holds its maximum more
    than once."""
    windows = oracle.pool_offsets(x, k, stride or k)
    return bool(np.any(np.count_nonzero(windows == windows.max(axis=0), axis=0) > 1))


def for_checks(cases):
    """The cases with what the checks read besides them: the known-mistake signatures and, for pooling, whether a
    window has a tied maximum (then the numerical gradient check is skipped)."""
    ready = {}
    for test, test_cases in cases.items():
        ready[test] = []
        for case in test_cases:
            case = dict(case)
            for kind in SIGNATURE_KINDS.get(test, []):
                case.update(mistakes.signatures(kind, case))
            if test.startswith("pool"):
                case["ties"] = np.array(has_ties(case["x"], int(case["k"]), int(case.get("stride", case["k"]))))
            ready[test].append(case)
    return ready


def visible():
    """{test: [case dict, ...]}: the cases of the visible checks, as they ship in cnnkit/visible_cases.npz."""
    return for_checks({**_conv_visible(), **_pool_visible(), **_conv2d_visible(), **_pool2d_visible()})


def kernel():
    """{test: [case dict, ...]}: the cases the graded cells run in the grading kernel (public seed)."""
    return for_checks(generate(KERNEL_SEED))


def same_cases(a, b):
    """Whether two {test: [case dict, ...]} hold the same tests, fields, dtypes and values."""
    return a.keys() == b.keys() and all(
        len(a[test]) == len(b[test]) and all(
            x.keys() == y.keys() and all(np.asarray(x[name]).dtype == np.asarray(y[name]).dtype
                                         and np.array_equal(x[name], y[name]) for name in x)
            for x, y in zip(a[test], b[test]))
        for test in a)


def write_if_changed(path, cases):
    """Write ``cases`` to ``path`` unless it already holds them (so that re-releasing does not change committed
    bytes); returns whether it wrote."""
    path = Path(path)
    if path.is_file() and same_cases(casefile.read(path), cases):
        return False
    path.write_bytes(casefile.to_bytes(cases))
    return True


def write_data_files(visible_path=checks.VISIBLE_CASES, kernel_path=hidden_tests.KERNEL_CASES):
    """Write the visible and the kernel cases (``make release``); returns the paths written."""
    return [path for path, cases in ((visible_path, visible()), (kernel_path, kernel()))
            if write_if_changed(path, cases)]
