"""The oracle of the layers that stack (channels, padding, bias, dx; pooling with any stride) against numbers we did
not compute: CS231n's published arrays, numerical gradients, and PyTorch over hundreds of configurations where it is
installed (CI installs a CPU wheel when the machine keeps one).

The oracle (autograder/oracle.py) computes what the graded methods must return; the hidden cases are made with it.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import oracle
from cnnkit.gradcheck import numerical_gradient

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is optional; install it to add this cross-check")

MANY = settings(max_examples=300, deadline=None, derandomize=True)  # the configurations checked against PyTorch
SOME = settings(max_examples=40, deadline=None, derandomize=True)   # against numerical gradients (slower)


def rel_error(x, y):
    """CS231n's measure of difference, with which its published tolerances are stated."""
    return np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y)))


def test_conv_forward_reproduces_cs231n_published_output():
    """CS231n assignment 2, "Convolution: naive forward pass": x (2, 3, 4, 4), w (3, 3, 4, 4), stride 2, pad 1;
    "difference should be around 2e-8" (the published values have 8 decimals)."""
    x = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    w = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    correct_out = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
    out = oracle.conv2d(x, w, b, stride=2, padding=1)
    assert out.shape == correct_out.shape
    assert rel_error(out, correct_out) < 5e-8


def test_max_pool_forward_reproduces_cs231n_published_output():
    """CS231n assignment 2, "Max-Pooling: naive forward": x (2, 3, 4, 4), 2 x 2 windows, stride 2; "difference should
    be on the order of e-8"."""
    x = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
    correct_out = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
    assert rel_error(oracle.maxpool2d_forward(x, 2, 2), correct_out) < 5e-8


@st.composite
def conv_configs(draw):
    """(n, c, f, k, stride, padding, h, w, seed): batch of one, one channel, 1 x 1 filters and a filter as large as
    the padded input included; the last windows often do not fit."""
    k, padding = draw(st.integers(1, 4)), draw(st.integers(0, 2))
    low = max(1, k - 2 * padding)
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4)), k, draw(st.integers(1, 3)),
            padding, draw(st.integers(low, low + 6)), draw(st.integers(low, low + 6)), draw(st.integers(0, 2**32 - 1)))


def make_conv(n, c, f, k, stride, padding, h, w, seed):
    rng = np.random.default_rng(seed)
    x, weights, bias = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
    h_out, w_out = (h + 2 * padding - k) // stride + 1, (w + 2 * padding - k) // stride + 1
    return x, weights, bias, rng.normal(size=(n, f, h_out, w_out))


@st.composite
def pool_configs(draw):
    """(n, c, k, stride, h, w, seed, ties): strides below k (overlapping windows), equal, and above it."""
    k = draw(st.integers(1, 4))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 3)), k, draw(st.integers(1, k + 1)),
            draw(st.integers(k, k + 7)), draw(st.integers(k, k + 7)), draw(st.integers(0, 2**32 - 1)), draw(st.booleans()))


def make_pool(n, c, k, stride, h, w, seed, ties):
    """An input (small integers when ``ties``, so that windows share their maximum) and an upstream gradient."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, size=(n, c, h, w)).astype(float) if ties else rng.normal(size=(n, c, h, w))
    return x, rng.normal(size=(n, c, (h - k) // stride + 1, (w - k) // stride + 1))


@SOME
@given(conv_configs())
def test_conv_gradients_are_the_numerical_gradients_of_the_forward_pass(config):
    x, weights, bias, grad_output = make_conv(*config)
    stride, padding = config[4], config[5]
    loss = lambda: np.sum(oracle.conv2d(x, weights, bias, stride, padding) * grad_output)  # noqa: E731
    grads = oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    for name, array in [("x", x), ("weights", weights), ("bias", bias)]:
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, array), rtol=1e-6, atol=1e-6, err_msg=name)


@SOME
@given(pool_configs())
def test_pool_gradient_is_the_numerical_gradient_of_the_forward_pass(config):
    x, grad_output = make_pool(*config[:-1], ties=False)
    k, stride = config[2], config[3]
    loss = lambda: np.sum(oracle.maxpool2d_forward(x, k, stride) * grad_output)  # noqa: E731
    np.testing.assert_allclose(oracle.maxpool2d_backward(x, grad_output, k, stride), numerical_gradient(loss, x),
                               rtol=1e-6, atol=1e-6)


def test_overlapping_windows_add_their_gradients_and_ties_go_to_the_first_maximum():
    """A 3 x 3 input whose centre is the maximum of all four 2 x 2 windows (stride 1) gets the sum of their
    gradients; in a window of equal values, only its top-left element gets anything."""
    x = np.array([[[[0.0, 0, 0], [0, 5, 0], [0, 0, 0]]]])
    grad_output = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    np.testing.assert_array_equal(oracle.maxpool2d_backward(x, grad_output, 2, 1), expected)
    flat = np.ones((1, 1, 2, 2))
    np.testing.assert_array_equal(oracle.maxpool2d_backward(flat, np.array([[[[7.0]]]]), 2, 1),
                                  [[[[7.0, 0], [0, 0]]]])


@needs_torch
@MANY
@given(conv_configs())
def test_conv_forward_and_every_gradient_match_torch(config):
    x, weights, bias, grad_output = make_conv(*config)
    stride, padding = config[4], config[5]
    x_t, w_t, b_t = (torch.tensor(array, requires_grad=True) for array in (x, weights, bias))
    out_t = torch.nn.functional.conv2d(x_t, w_t, b_t, stride=stride, padding=padding)
    out_t.backward(torch.tensor(grad_output))
    np.testing.assert_allclose(oracle.conv2d(x, weights, bias, stride, padding), out_t.detach().numpy(),
                               rtol=0, atol=1e-10)
    grads = oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    for name, tensor in [("x", x_t), ("weights", w_t), ("bias", b_t)]:
        np.testing.assert_allclose(grads[name], tensor.grad.numpy(), rtol=0, atol=1e-10, err_msg=name)


@needs_torch
@MANY
@given(pool_configs())
def test_pool_forward_and_gradient_match_torch_with_overlaps_and_ties(config):
    x, grad_output = make_pool(*config)
    k, stride = config[2], config[3]
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.max_pool2d(x_t, k, stride)
    out_t.backward(torch.tensor(grad_output))
    np.testing.assert_array_equal(oracle.maxpool2d_forward(x, k, stride), out_t.detach().numpy())
    np.testing.assert_allclose(oracle.maxpool2d_backward(x, grad_output, k, stride), x_t.grad.numpy(),
                               rtol=0, atol=1e-12)
