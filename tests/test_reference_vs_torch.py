"""The reference layers against PyTorch, when PyTorch happens to be installed (it is not required).

PyTorch's conv2d is also a cross-correlation, and its CPU max_pool2d sends the gradient of a window
with tied maxima to the first one in row-major order, the rule the kit states.
"""

import numpy as np
import pytest
from hypothesis import given, settings

from autograder import oracle
from test_reference_layers import conv_configs, make_conv, make_pool, pool_configs

torch = pytest.importorskip("torch", reason="PyTorch is optional; install it to add this cross-check")

TORCH = settings(max_examples=100, deadline=None, derandomize=True)


@TORCH
@given(conv_configs())
def test_conv_forward_and_weight_gradient_match_torch(config):
    layer, x, grad_output = make_conv(*config)
    x_t = torch.tensor(x)
    w_t = torch.tensor(layer.weights[:, None], requires_grad=True)  # (F, 1, k, k)
    out_t = torch.nn.functional.conv2d(x_t, w_t, stride=layer.stride)
    out_t.backward(torch.tensor(grad_output))
    cache = layer.forward(x)
    np.testing.assert_allclose(cache["out"], out_t.detach().numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(layer.backward(cache, grad_output), w_t.grad.numpy()[:, 0], rtol=0, atol=1e-10)


@TORCH
@given(pool_configs())
def test_pool_with_ties_matches_torch(config):
    layer, x, grad_output = make_pool(*config, ties=True)
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.max_pool2d(x_t, layer.filter_size)
    out_t.backward(torch.tensor(grad_output))
    cache = layer.forward(x)
    np.testing.assert_array_equal(cache["out"], out_t.detach().numpy())
    np.testing.assert_array_equal(layer.backward(cache, grad_output), x_t.grad.numpy())
    np.testing.assert_array_equal(x_t.grad.numpy(), oracle.maxpool_backward(x, grad_output, layer.filter_size))
