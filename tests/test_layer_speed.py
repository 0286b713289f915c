"""The speed table's contenders compute the layer right: SciPy's and PyTorch's outputs and gradients against the
oracle (autograder/oracle.py) over random configurations, and time_layers returns a time for every contender."""

import numpy as np
import pytest

from autograder import layer_speed, oracle

try:
    import torch
except ImportError:
    torch = None
needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is optional; install it to add this cross-check")


def random_configurations(count=20, seed=0):
    """(x, weights, bias, grad_output, stride, padding) with 1-3 images, 1-4 channels and filters, k 1-4, stride
    1-2, padding 0-2, and sizes from the smallest that fits one window up to 9."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        n, c, f = (int(v) for v in rng.integers(1, [4, 5, 5]))
        k, stride, padding = int(rng.integers(1, 5)), int(rng.integers(1, 3)), int(rng.integers(0, 3))
        h, w = (int(rng.integers(max(1, k - 2 * padding), 10)) for _ in range(2))
        x, weights, bias = rng.normal(size=(n, c, h, w)), rng.normal(size=(f, c, k, k)), rng.normal(size=f)
        out_shape = oracle.conv2d(x, weights, bias, stride, padding).shape
        cases.append((x, weights, bias, rng.normal(size=out_shape), stride, padding))
    return cases


CASES = random_configurations()
IDS = [f"x{case[0].shape}-w{case[1].shape}-s{case[4]}-p{case[5]}".replace(" ", "") for case in CASES]


def assert_matches_oracle(out, grads, x, weights, bias, grad_output, stride, padding):
    expected_out = oracle.conv2d(x, weights, bias, stride, padding)
    expected = oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    assert out.shape == expected_out.shape
    np.testing.assert_allclose(out, expected_out, rtol=0, atol=1e-10)
    assert set(grads) == set(expected)
    for key in expected:
        assert grads[key].shape == expected[key].shape, key
        np.testing.assert_allclose(grads[key], expected[key], rtol=0, atol=1e-10, err_msg=key)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_scipy_layer_matches_oracle(case):
    x, weights, bias, grad_output, stride, padding = case
    out = layer_speed.scipy_conv2d_forward(x, weights, bias, stride, padding)
    grads = layer_speed.scipy_conv2d_backward(x, weights, grad_output, stride, padding)
    assert_matches_oracle(out, grads, *case)


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_layer_matches_oracle(case):
    x, weights, bias, grad_output, stride, padding = case
    out, grads = layer_speed.torch_conv2d(x, weights, bias, grad_output, stride, padding)
    assert_matches_oracle(out, grads, *case)


class OracleLayer:
    """A stand-in for the notebook's layer classes (the API time_layers uses), computed by the oracle."""

    def __init__(self, n_inchannel, n_outchannel, filter_size=3, stride=1, padding=0):
        self.stride, self.padding = stride, padding
        self.weights = np.zeros((n_outchannel, n_inchannel, filter_size, filter_size))
        self.bias = np.zeros(n_outchannel)

    def forward(self, x):
        return {"x": x, "out": oracle.conv2d(x, self.weights, self.bias, self.stride, self.padding)}

    def backward(self, cache, grad_output):
        return oracle.conv2d_backward(cache["x"], self.weights, grad_output, self.stride, self.padding)


def test_time_layers_gives_a_positive_time_for_every_contender():
    seconds = layer_speed.time_layers(OracleLayer, OracleLayer, repeats=2, n=2, c=2, f=3, size=6)
    assert list(seconds) == list(layer_speed.LABELS)
    for label, value in seconds.items():
        if label == layer_speed.TORCH and torch is None:
            assert value is None
            continue
        assert isinstance(value, float) and value > 0, label
    table = layer_speed.format_table(seconds)
    assert "vs vectorised" in table and "1.00x" in table
    assert all(label in table for label in layer_speed.LABELS)
