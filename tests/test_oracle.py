"""The oracle of the layers that stack (channels, padding, bias, dx; pooling with any stride) against numbers we did
not compute: CS231n's published arrays, numerical gradients, and PyTorch over hundreds of configurations where it is
installed (CI installs a CPU wheel when the machine keeps one).

The oracle (autograder/oracle.py) computes what the graded methods must return; the hidden cases are made with it.
"""

import numpy as np
from hypothesis import given

from autograder import oracle
from cnnkit.gradcheck import numerical_gradient
from layer_configs import (CS231N_CONV_B, CS231N_CONV_OUT, CS231N_CONV_W, CS231N_CONV_X, CS231N_POOL_OUT, CS231N_POOL_X,
                           CS231N_TOLERANCE, MANY, SOME, conv_configs, make_conv, make_pool, needs_torch, pool_configs,
                           rel_error, torch_maxpool2d)
from autograder.layer_speed import torch_conv2d


def test_conv_forward_reproduces_cs231n_published_output():
    """CS231n assignment 2, "Convolution: naive forward pass": x (2, 3, 4, 4), w (3, 3, 4, 4), stride 2, pad 1;
    "difference should be around 2e-8" (the published values have 8 decimals)."""
    out = oracle.conv2d(CS231N_CONV_X, CS231N_CONV_W, CS231N_CONV_B, stride=2, padding=1)
    assert out.shape == CS231N_CONV_OUT.shape
    assert rel_error(out, CS231N_CONV_OUT) < CS231N_TOLERANCE


def test_max_pool_forward_reproduces_cs231n_published_output():
    """CS231n assignment 2, "Max-Pooling: naive forward": x (2, 3, 4, 4), 2 x 2 windows, stride 2; "difference should
    be on the order of e-8"."""
    assert rel_error(oracle.maxpool2d_forward(CS231N_POOL_X, 2, 2), CS231N_POOL_OUT) < CS231N_TOLERANCE


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
    out_t, grads_t = torch_conv2d(x, weights, bias, grad_output, stride, padding)
    np.testing.assert_allclose(oracle.conv2d(x, weights, bias, stride, padding), out_t, rtol=0, atol=1e-10)
    grads = oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    for name in ("x", "weights", "bias"):
        np.testing.assert_allclose(grads[name], grads_t[name], rtol=0, atol=1e-10, err_msg=name)


@needs_torch
@MANY
@given(pool_configs())
def test_pool_forward_and_gradient_match_torch_with_overlaps_and_ties(config):
    x, grad_output = make_pool(*config)
    k, stride = config[2], config[3]
    out_t, grad_x_t = torch_maxpool2d(x, grad_output, k, stride)
    np.testing.assert_array_equal(oracle.maxpool2d_forward(x, k, stride), out_t)
    np.testing.assert_allclose(oracle.maxpool2d_backward(x, grad_output, k, stride), grad_x_t,
                               rtol=0, atol=1e-12)
