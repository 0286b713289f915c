"""cnnkit.diagnosis on hand-made outputs: the structural causes say what they should, and nothing is claimed for a
correct output, noise or a single wrong element (the mutation suite, tests/test_mutations.py, covers real layers)."""

import numpy as np
import pytest

from autograder import oracle
from cnnkit.diagnosis import likely_cause

RNG = np.random.default_rng(5)
X = RNG.normal(size=(3, 1, 9, 8))
WEIGHTS = RNG.normal(size=(2, 3, 3))
CONV_CASE = {"x": X, "weights": WEIGHTS, "stride": np.array(2)}  # no signatures: the structural diagnosis alone
OUT = oracle.conv_forward(X, WEIGHTS, 2)  # (3, 2, 4, 3)


def conv_cause(actual):
    return likely_cause("conv_forward", actual, OUT, CONV_CASE)


def test_a_wrong_output_size_gets_the_formula_with_the_cases_numbers():
    cause = conv_cause(np.zeros((3, 2, 4, 4)))
    assert "(rounded up" in cause and "H_out = (H - k) // s + 1 = (9 - 3) // 2 + 1 = 4" in cause
    assert "W_out = (W - k) // s + 1 = (8 - 3) // 2 + 1 = 3" in cause
    assert "rounded up" not in conv_cause(np.zeros((3, 2, 3, 3)))
    assert "another order" in conv_cause(np.zeros((3, 4, 3, 2)))


@pytest.mark.parametrize("transform, phrase", [
    (lambda out: out * 3, "a factor of 3 (multiplied by N, the batch size; or by k)"),
    (lambda out: out / 2, "a factor of 1/2 (divided by s, the stride)"),
    (lambda out: out * 1.7, "a constant factor"),
    (lambda out: out - 0.5, "off by the same amount, -0.5"),
    (lambda out: out[:, :, :, ::-1], "mirrored left to right"),
    (lambda out: np.where(np.arange(3)[:, None, None, None] == 1, 0.0, out), "right for image 0, 2 and wrong for image 1"),
    (lambda out: np.concatenate([out[:, :, :3], np.zeros_like(out[:, :, 3:])], axis=2), "except the last 1 row"),
    (lambda out: np.concatenate([np.zeros_like(out[:, :, :1]), out[:, :, :-1]], axis=2), "shifted by one window down"),
    (lambda out: np.zeros_like(out), "every value is 0"),
    (lambda out: np.where(out > 0, np.nan, out), "NaN or infinite"),
])
def test_each_kind_of_structural_difference_is_named(transform, phrase):
    assert phrase in conv_cause(transform(OUT))


def test_nothing_is_claimed_for_a_correct_output_noise_or_one_wrong_element():
    assert conv_cause(OUT.copy()) is None
    assert conv_cause(OUT + RNG.normal(size=OUT.shape)) is None
    one_wrong = OUT.copy()
    one_wrong[0, 1, 3, 2] += 1
    assert conv_cause(one_wrong) is None
    assert conv_cause([[1.0]]) is None and conv_cause(OUT.astype(str)) is None


def test_the_gradient_of_a_dropped_border_must_be_zero():
    x, grad_output = RNG.normal(size=(2, 2, 5, 7)), RNG.normal(size=(2, 2, 2, 3))
    expected = oracle.maxpool_backward(x, grad_output, 2)
    actual = expected.copy()
    actual[:, :, 4, :] = 1.0  # the last row: no window covers it
    cause = likely_cause("pool_backward", actual, expected, {"x": x, "k": np.array(2)})
    assert "the border that no window covers" in cause
    assert "this is the input x" in likely_cause("pool_backward", x.copy(), expected, {"x": x, "k": np.array(2)})
