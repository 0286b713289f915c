"""The reference layers of solutions/ against the independent oracle (SciPy, reshapes, numerical gradients).

Property-based: Hypothesis draws the configuration (batch 1-5, 1-6 filters, filter 1-5, stride 1-3,
non-square inputs whose last windows may not fit, pool sizes 2-4 that need not divide the input)
and a seed for the array values; explicit examples pin the edge cases.
"""

import inspect

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from autograder import oracle
from cnnkit.gradcheck import numerical_gradient
from reference import Convolution2dLayer, MaxPooling2dLayer

TOLERANCE = 1e-10
PROPERTY = settings(max_examples=250, deadline=None, derandomize=True)


@st.composite
def conv_configs(draw):
    """(n, f, k, s, h, w, seed) with the filter fitting the input at least once."""
    k = draw(st.integers(1, 5))
    return (draw(st.integers(1, 5)), draw(st.integers(1, 6)), k, draw(st.integers(1, 3)),
            draw(st.integers(k, k + 9)), draw(st.integers(k, k + 9)), draw(st.integers(0, 2**32 - 1)))


@st.composite
def pool_configs(draw):
    """(n, c, k, h, w, seed): H and W from k to 4k + 3, so k often does not divide them."""
    k = draw(st.integers(2, 4))
    return (draw(st.integers(1, 5)), draw(st.integers(1, 4)), k,
            draw(st.integers(k, 4 * k + 3)), draw(st.integers(k, 4 * k + 3)), draw(st.integers(0, 2**32 - 1)))


def make_conv(n, f, k, s, h, w, seed):
    """A reference layer with random weights, an input (n, 1, h, w) and an upstream gradient."""
    rng = np.random.default_rng(seed)
    layer = Convolution2dLayer(filter_size=k, stride=s, n_outchannel=f)
    layer.weights = rng.normal(size=(f, k, k))
    x = rng.normal(size=(n, 1, h, w))
    grad_output = rng.normal(size=(n, f, oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s)))
    return layer, x, grad_output


EDGE_CONV = [
    (1, 4, 3, 1, 6, 6, 0),   # batch of one
    (4, 1, 3, 2, 7, 5, 1),   # a single filter
    (1, 1, 2, 2, 5, 5, 2),   # batch of one and a single filter, last window does not fit
    (3, 2, 3, 3, 8, 11, 3),  # stride 3, non-square, last windows do not fit
    (2, 3, 4, 3, 4, 10, 4),  # a single output row
    (2, 2, 1, 2, 5, 4, 5),   # 1x1 filter with a stride
    (2, 3, 5, 1, 5, 5, 6),   # filter as large as the input: one output value
]


def with_examples(cases, arguments=1):
    """Decorate a property so that each case in ``cases`` always runs too.

    With ``arguments`` > 1, each case is the tuple of the property's arguments.
    """
    def decorate(test):
        for case in cases:
            test = (example(*case) if arguments > 1 else example(case))(test)
        return test
    return decorate


@PROPERTY
@given(conv_configs())
@with_examples(EDGE_CONV)
def test_conv_forward_matches_scipy(config):
    layer, x, _ = make_conv(*config)
    cache = layer.forward(x)
    expected = oracle.conv_forward(x, layer.weights, layer.stride)
    assert cache["x"] is x
    assert cache["out"].shape == expected.shape
    np.testing.assert_allclose(cache["out"], expected, rtol=0, atol=TOLERANCE)


@PROPERTY
@given(conv_configs())
@with_examples(EDGE_CONV)
def test_conv_views_slide_with_the_stride(config):
    n, f, k, s, h, w, _ = config
    layer, x, _ = make_conv(*config)
    views = layer._get_filtersizeXfiltersize_views(x)
    assert inspect.isgenerator(views)
    h_out, w_out = oracle.conv_output_size(h, k, s), oracle.conv_output_size(w, k, s)
    positions = []
    for out_row, out_col, view in views:
        positions.append((out_row, out_col))
        np.testing.assert_array_equal(view, x[:, :, s * out_row:s * out_row + k, s * out_col:s * out_col + k])
        assert view.shape == (n, 1, k, k)
    assert positions == [(p, q) for p in range(h_out) for q in range(w_out)]


@PROPERTY
@given(conv_configs())
@with_examples(EDGE_CONV)
def test_conv_backward_matches_oracle(config):
    layer, x, grad_output = make_conv(*config)
    grads = layer.backward(layer.forward(x), grad_output)
    expected = oracle.conv_weight_grad(x, grad_output, layer.filter_size, layer.stride)
    assert grads.shape == layer.weights.shape
    np.testing.assert_allclose(grads, expected, rtol=0, atol=TOLERANCE)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(conv_configs())
@with_examples(EDGE_CONV)
def test_conv_backward_matches_numerical_gradient(config):
    layer, x, grad_output = make_conv(*config)
    grads = layer.backward(layer.forward(x), grad_output)
    numerical = numerical_gradient(lambda: np.sum(layer.forward(x)["out"] * grad_output), layer.weights)
    np.testing.assert_allclose(grads, numerical, rtol=0, atol=1e-6)


def make_pool(n, c, k, h, w, seed, ties):
    """A reference pooling layer, an input (n, c, h, w) and an upstream gradient.

    With ``ties`` the input holds small integers, so most windows contain tied maxima; without,
    all values are distinct and at least 0.01 apart (a numerical gradient is then well defined).
    """
    rng = np.random.default_rng(seed)
    if ties:
        x = rng.integers(0, 3, size=(n, c, h, w)).astype(float)
    else:
        x = rng.permutation(n * c * h * w).reshape(n, c, h, w) / 100.0
    grad_output = rng.normal(size=(n, c, h // k, w // k))
    return MaxPooling2dLayer(filter_size=k), x, grad_output


EDGE_POOL = [
    (1, 1, 2, 5, 7, 0),  # batch of one, one channel, nothing divides
    (2, 3, 3, 3, 3, 1),  # a single window
    (3, 2, 4, 9, 4, 2),  # border row dropped
    (1, 2, 2, 2, 9, 3),  # one output row
]


@PROPERTY
@given(pool_configs(), st.booleans())
@with_examples([(case, ties) for case in EDGE_POOL for ties in (False, True)], arguments=2)
def test_pool_forward_and_backward_match_oracle(config, ties):
    layer, x, grad_output = make_pool(*config, ties=ties)
    k = layer.filter_size
    cache = layer.forward(x)
    np.testing.assert_array_equal(cache["out"], oracle.maxpool_forward(x, k))
    grads = layer.backward(cache, grad_output)
    np.testing.assert_array_equal(grads, oracle.maxpool_backward(x, grad_output, k))


@PROPERTY
@given(pool_configs())
@with_examples(EDGE_POOL)
def test_pool_views_are_the_non_overlapping_windows(config):
    layer, x, _ = make_pool(*config, ties=False)
    k = layer.filter_size
    positions = []
    for out_row, out_col, view in layer._get_filtersizeXfiltersize_views(x):
        positions.append((out_row, out_col))
        np.testing.assert_array_equal(view, x[:, :, k * out_row:k * out_row + k, k * out_col:k * out_col + k])
    assert positions == [(p, q) for p in range(x.shape[2] // k) for q in range(x.shape[3] // k)]


@settings(max_examples=60, deadline=None, derandomize=True)
@given(pool_configs())
@with_examples(EDGE_POOL)
def test_pool_backward_matches_numerical_gradient(config):
    layer, x, grad_output = make_pool(*config, ties=False)
    grads = layer.backward(layer.forward(x), grad_output)
    numerical = numerical_gradient(lambda: np.sum(layer.forward(x)["out"] * grad_output), x, eps=1e-4)
    np.testing.assert_allclose(grads, numerical, rtol=0, atol=1e-8)


def test_pool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0, 5.0],
                    [3.0, 2.0, 3.0, 3.0, 5.0],
                    [7.0, 7.0, 2.0, 2.0, 9.0]]]])  # 2x2 windows: two tied 3s, then three; row 2 and column 4 dropped
    layer = MaxPooling2dLayer(filter_size=2)
    grads = layer.backward(layer.forward(x), np.array([[[[10.0, 20.0]]]]))
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1] = 10.0  # (0, 1) is the first 3 in row-major order, before (1, 0)
    expected[0, 0, 0, 2] = 20.0  # (0, 2) is the first of the three 3s of the second window
    np.testing.assert_array_equal(grads, expected)


def test_pool_all_equal_window_sends_everything_to_its_top_left():
    layer = MaxPooling2dLayer(filter_size=3)
    x = np.full((2, 1, 3, 3), -1.5)
    grads = layer.backward(layer.forward(x), np.array([4.0, -2.0]).reshape(2, 1, 1, 1))
    expected = np.zeros_like(x)
    expected[:, 0, 0, 0] = [4.0, -2.0]
    np.testing.assert_array_equal(grads, expected)
