"""Notebook 04's reference layers (solutions/04_layers_that_stack.ipynb) against numbers we did not compute: CS231n's
published arrays, the oracle (itself checked against PyTorch and numerical gradients in test_oracle.py) over hundreds
of configurations, numerical gradients, and PyTorch's conv2d and max_pool2d with autograd where it is installed; and
the deeper network the notebook builds from them."""

import ast

import nbformat
import numpy as np
import pytest
from hypothesis import given

from autograder import oracle
from cnnkit import network
from cnnkit.gradcheck import numerical_gradient
from layer_configs import (CS231N_CONV_B, CS231N_CONV_OUT, CS231N_CONV_W, CS231N_CONV_X, CS231N_POOL_OUT, CS231N_POOL_X,
                           CS231N_TOLERANCE, MANY, SOME, conv_configs, make_conv, make_pool, needs_torch, pool_configs,
                           rel_error, torch_maxpool2d)
from autograder.layer_speed import torch_conv2d
from reference import SOLUTIONS, Conv2dLayer, FastConv2dLayer, MaxPool2dLayer

CONV_LAYERS = [Conv2dLayer, FastConv2dLayer]
AGREE = 1e-10  # FastConv2dLayer against Conv2dLayer (relative, as the issue of notebook 04 states it)


def conv_layer(cls, weights, bias, stride, padding):
    """A reference layer of class ``cls`` holding these weights (F, C, k, k) and bias (F,)."""
    n_filters, n_channels, k, _ = weights.shape
    layer = cls(n_inchannel=n_channels, n_outchannel=n_filters, filter_size=k, stride=stride, padding=padding)
    layer.weights, layer.bias = weights.copy(), bias.copy()
    return layer


def run_conv(cls, x, weights, bias, grad_output, stride, padding):
    """(out, {"x", "weights", "bias"}) of the reference layer."""
    layer = conv_layer(cls, weights, bias, stride, padding)
    cache = layer.forward(x)
    return cache["out"], layer.backward(cache, grad_output)


@pytest.mark.parametrize("cls", CONV_LAYERS)
def test_conv_layers_reproduce_cs231n_published_output(cls):
    layer = conv_layer(cls, CS231N_CONV_W, CS231N_CONV_B, stride=2, padding=1)
    out = layer.forward(CS231N_CONV_X)["out"]
    assert out.shape == CS231N_CONV_OUT.shape and rel_error(out, CS231N_CONV_OUT) < CS231N_TOLERANCE


def test_pool_layer_reproduces_cs231n_published_output():
    out = MaxPool2dLayer(filter_size=2, stride=2).forward(CS231N_POOL_X)["out"]
    assert out.shape == CS231N_POOL_OUT.shape and rel_error(out, CS231N_POOL_OUT) < CS231N_TOLERANCE


@MANY
@given(conv_configs())
def test_both_conv_layers_are_the_oracle_and_agree_with_each_other(config):
    x, weights, bias, grad_output = make_conv(*config)
    stride, padding = config[4], config[5]
    expected_out, expected = oracle.conv2d(x, weights, bias, stride, padding), \
        oracle.conv2d_backward(x, weights, grad_output, stride, padding)
    (loop_out, loop_grads), (fast_out, fast_grads) = (run_conv(cls, x, weights, bias, grad_output, stride, padding)
                                                      for cls in CONV_LAYERS)
    for out, grads in ((loop_out, loop_grads), (fast_out, fast_grads)):
        np.testing.assert_allclose(out, expected_out, rtol=0, atol=1e-10)
        for name in ("x", "weights", "bias"):
            assert grads[name].shape == expected[name].shape, name
            np.testing.assert_allclose(grads[name], expected[name], rtol=0, atol=1e-10, err_msg=name)
    np.testing.assert_allclose(fast_out, loop_out, rtol=AGREE, atol=AGREE)
    for name in ("x", "weights", "bias"):
        np.testing.assert_allclose(fast_grads[name], loop_grads[name], rtol=AGREE, atol=AGREE, err_msg=name)


@MANY
@given(pool_configs())
def test_pool_layer_is_the_oracle_with_overlaps_and_ties(config):
    x, grad_output = make_pool(*config)
    k, stride = config[2], config[3]
    layer = MaxPool2dLayer(filter_size=k, stride=stride)
    cache = layer.forward(x)
    np.testing.assert_array_equal(cache["out"], oracle.maxpool2d_forward(x, k, stride))
    np.testing.assert_allclose(layer.backward(cache, grad_output), oracle.maxpool2d_backward(x, grad_output, k, stride),
                               rtol=0, atol=1e-12)


def test_pool_stride_defaults_to_the_window():
    x = np.random.default_rng(0).normal(size=(2, 3, 7, 8))
    np.testing.assert_array_equal(MaxPool2dLayer(filter_size=3).forward(x)["out"], oracle.maxpool2d_forward(x, 3, 3))


@SOME
@given(conv_configs())
def test_conv_gradients_are_the_numerical_gradients_of_the_reference_forward(config):
    x, weights, bias, grad_output = make_conv(*config)
    layer = conv_layer(Conv2dLayer, weights, bias, config[4], config[5])
    grads = layer.backward(layer.forward(x), grad_output)
    loss = lambda: np.sum(layer.forward(x)["out"] * grad_output)  # noqa: E731
    for name, array in [("x", x), ("weights", layer.weights), ("bias", layer.bias)]:
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, array), rtol=1e-6, atol=1e-6, err_msg=name)


@needs_torch
@MANY
@given(conv_configs())
def test_both_conv_layers_match_torch(config):
    x, weights, bias, grad_output = make_conv(*config)
    stride, padding = config[4], config[5]
    out_t, grads_t = torch_conv2d(x, weights, bias, grad_output, stride, padding)
    for cls in CONV_LAYERS:
        out, grads = run_conv(cls, x, weights, bias, grad_output, stride, padding)
        np.testing.assert_allclose(out, out_t, rtol=0, atol=1e-10)
        for name in ("x", "weights", "bias"):
            np.testing.assert_allclose(grads[name], grads_t[name], rtol=0, atol=1e-10, err_msg=name)


@needs_torch
@MANY
@given(pool_configs())
def test_pool_layer_matches_torch_with_overlaps_and_ties(config):
    x, grad_output = make_pool(*config)
    k, stride = config[2], config[3]
    out_t, grad_x_t = torch_maxpool2d(x, grad_output, k, stride)
    layer = MaxPool2dLayer(filter_size=k, stride=stride)
    cache = layer.forward(x)
    np.testing.assert_array_equal(cache["out"], out_t)
    np.testing.assert_allclose(layer.backward(cache, grad_output), grad_x_t, rtol=0, atol=1e-12)


# ---- the deeper network of notebook 04 ---------------------------------------------------------------------

def notebook_networks():
    """{name: (architecture, training)} as notebook 04's cell "deeper_training" writes them (its first statement)."""
    (cell,) = [cell for cell in nbformat.read(SOLUTIONS / "04_layers_that_stack.ipynb", as_version=4).cells
               if cell.metadata["nbgrader"]["grade_id"] == "deeper_training"]
    namespace = {}
    exec(ast.unparse(ast.parse(cell.source).body[0]), namespace)
    return namespace["networks"]


def test_the_stacked_network_gradients_are_its_numerical_gradients():
    rng = np.random.default_rng(0)
    model = network.StackedDigitCNN(FastConv2dLayer, MaxPool2dLayer, rng, channels=(3, 4), padding=1)
    x, labels = rng.normal(size=(3, 1, 10, 10)), np.array([1, 5, 7])
    _, _, grads = model.loss_and_gradients(x, labels)
    loss = lambda: model.loss.forward(model.forward(x)[0], labels)["loss"]  # noqa: E731
    assert set(grads) == set(model.parameters()) == {"conv1.weights", "conv1.bias", "conv2.weights", "conv2.bias",
                                                     "dense.weights", "dense.bias"}
    for name, parameter in model.parameters().items():
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, parameter), rtol=1e-5, atol=1e-7, err_msg=name)


def test_cosine_decay_goes_from_the_base_rate_towards_zero():
    rates = [network.cosine_decay(0.07, epoch, 7) for epoch in range(7)]
    assert rates[0] == 0.07 and all(a > b > 0 for a, b in zip(rates, rates[1:]))
    np.testing.assert_allclose(rates[3], 0.07 * (1 + np.cos(3 * np.pi / 7)) / 2)


def test_the_deeper_network_reads_at_least_98_percent_of_the_test_digits_for_five_seeds():
    """The notebook's two-layer network and its training, with the reference layers, on the seeds 0 to 4 of notebook
    03's split (the seed also draws the weights and the order of the mini-batches)."""
    architecture, training = notebook_networks()["two conv layers"]
    accuracies = []
    for seed in range(5):
        x_train, y_train, x_val, y_val, x_test, y_test = network.split_digits(seed=seed)
        rng = np.random.default_rng(seed)
        model = network.StackedDigitCNN(FastConv2dLayer, MaxPool2dLayer, rng, **architecture)
        optimizer = network.SGDMomentum(learning_rate=training["learning_rate"], momentum=training["momentum"])
        network.train(model, optimizer, x_train, y_train, x_val, y_val, epochs=training["epochs"],
                      batch_size=training["batch_size"], rng=rng, decay=training["decay"], progress=False)
        assert optimizer.learning_rate == training["learning_rate"]  # the decay is undone for the next call
        accuracies.append(np.mean(model.predict(x_test) == y_test))
    assert min(accuracies) >= 0.98, accuracies
