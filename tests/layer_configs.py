"""Layer configurations and published arrays shared by the tests of the oracle (test_oracle.py) and of notebook 04's
reference layers (test_stacking_layers.py): hypothesis strategies and the arrays they make, CS231n's published inputs
and outputs, and PyTorch when it is installed."""

import numpy as np
import pytest
from hypothesis import settings
from hypothesis import strategies as st

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


# CS231n assignment 2: "Convolution: naive forward pass" (x (2, 3, 4, 4), w (3, 3, 4, 4), stride 2, pad 1; "difference
# should be around 2e-8"; the published values have 8 decimals) and "Max-Pooling: naive forward" (2 x 2 windows,
# stride 2; "on the order of e-8").
CS231N_CONV_X = np.linspace(-0.1, 0.5, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
CS231N_CONV_W = np.linspace(-0.2, 0.3, num=3 * 3 * 4 * 4).reshape(3, 3, 4, 4)
CS231N_CONV_B = np.linspace(-0.1, 0.2, num=3)
CS231N_CONV_OUT = np.array([[[[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                             [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                             [[0.50813986, 0.54309974], [0.64082444, 0.67101435]]],
                            [[[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                             [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                             [[2.36270298, 2.36904306], [2.38090835, 2.38247847]]]])
CS231N_POOL_X = np.linspace(-0.3, 0.4, num=2 * 3 * 4 * 4).reshape(2, 3, 4, 4)
CS231N_POOL_OUT = np.array([[[[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                             [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                             [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]]],
                            [[[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                             [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                             [[0.32631579, 0.34105263], [0.38526316, 0.4]]]])
CS231N_TOLERANCE = 5e-8  # of rel_error, as published


def torch_maxpool2d(x, grad_output, k, stride):
    """(out, dL/dx) of ``torch.nn.functional.max_pool2d`` with autograd, in float64, as NumPy arrays (the conv
    counterpart is autograder.layer_speed.torch_conv2d)."""
    x_t = torch.tensor(x, requires_grad=True)
    out_t = torch.nn.functional.max_pool2d(x_t, k, stride)
    out_t.backward(torch.tensor(grad_output))
    return out_t.detach().numpy(), x_t.grad.numpy()
