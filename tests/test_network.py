"""The pieces that notebook 3 provides (cnnkit.network), its figures, and the notebook itself.

The provided layers are checked against central-difference gradients; the whole network, built around
the reference layers of solutions/, too. Training must be reproducible from its seed, unfinished or
missing student layers must stop with one clear LayersNotReadyError, and the reference notebook must
reach its accuracy target.
"""

import re
import warnings

from matplotlib.figure import Figure
import nbformat
import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

import notebook_cells as cells
from cnnkit import data, network, training_plots
from cnnkit.gradcheck import numerical_gradient
from reference import SOLUTIONS, Convolution2dLayer, MaxPooling2dLayer

TOLERANCE = dict(rtol=1e-6, atol=1e-8)


def linear_loss(forward, grad_output):
    """L = sum(grad_output * forward()), whose gradient with respect to the output is grad_output."""
    return lambda: float(np.sum(grad_output * forward()))


# ---- the provided layers against numerical gradients --------------------------------------------------------

def test_relu_forward_and_backward():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 2, 4, 5))
    x[np.abs(x) < 1e-3] = 0.5  # keep every value away from the kink at 0
    grad_output = rng.normal(size=x.shape)
    relu = network.ReLULayer()
    cache = relu.forward(x)
    np.testing.assert_array_equal(cache["out"], np.where(x > 0, x, 0.0))
    expected = numerical_gradient(linear_loss(lambda: relu.forward(x)["out"], grad_output), x)
    np.testing.assert_allclose(relu.backward(cache, grad_output), expected, **TOLERANCE)


def test_flatten_keeps_the_order_and_backward_restores_the_shape():
    x = np.arange(2 * 3 * 4 * 4, dtype=float).reshape(2, 3, 4, 4)
    flatten = network.FlattenLayer()
    cache = flatten.forward(x)
    assert cache["out"].shape == (2, 48)
    np.testing.assert_array_equal(cache["out"][1], x[1].ravel())
    grad_output = np.random.default_rng(1).normal(size=(2, 48))
    np.testing.assert_array_equal(flatten.backward(cache, grad_output), grad_output.reshape(x.shape))


@pytest.mark.parametrize("n, d, k", [(1, 1, 1), (4, 7, 3), (5, 12, 10)])
def test_dense_gradients_of_input_weights_and_bias(n, d, k):
    rng = np.random.default_rng(n * 100 + d)
    dense = network.DenseLayer(d, k, rng)
    dense.bias = rng.normal(size=k)
    x = rng.normal(size=(n, d))
    grad_output = rng.normal(size=(n, k))
    cache = dense.forward(x)
    np.testing.assert_allclose(cache["out"], x @ dense.weights + dense.bias, **TOLERANCE)
    grad_x, grads = dense.backward(cache, grad_output)
    loss = linear_loss(lambda: dense.forward(x)["out"], grad_output)
    np.testing.assert_allclose(grad_x, numerical_gradient(loss, x), **TOLERANCE)
    np.testing.assert_allclose(grads["weights"], numerical_gradient(loss, dense.weights), **TOLERANCE)
    np.testing.assert_allclose(grads["bias"], numerical_gradient(loss, dense.bias), **TOLERANCE)


def test_dense_initialisation_is_lecun_normal():
    dense = network.DenseLayer(400, 50, np.random.default_rng(0))
    assert dense.weights.shape == (400, 50) and np.all(dense.bias == 0)
    assert abs(dense.weights.std() - np.sqrt(1 / 400)) < 0.002 and abs(dense.weights.mean()) < 0.002


@pytest.mark.parametrize("n, k", [(1, 2), (4, 10), (7, 3)])
def test_softmax_cross_entropy_value_and_gradient(n, k):
    rng = np.random.default_rng(n + k)
    scores = rng.normal(scale=3.0, size=(n, k))
    labels = rng.integers(0, k, size=n)
    loss_layer = network.SoftmaxCrossEntropyLoss()
    cache = loss_layer.forward(scores, labels)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(cache["probs"], probs, **TOLERANCE)
    np.testing.assert_allclose(cache["loss"], -np.mean(np.log(probs[np.arange(n), labels])), **TOLERANCE)
    expected = numerical_gradient(lambda: loss_layer.forward(scores, labels)["loss"], scores)
    np.testing.assert_allclose(loss_layer.backward(cache), expected, **TOLERANCE)
    one_hot = np.eye(k)[labels]
    np.testing.assert_allclose(loss_layer.backward(cache), (probs - one_hot) / n, **TOLERANCE)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    scores = np.array([[1000.0, 0.0, -1000.0], [-800.0, 800.0, 0.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would fail the test
        cache = network.SoftmaxCrossEntropyLoss().forward(scores, np.array([0, 0]))
        probs = network.softmax(scores)
    np.testing.assert_allclose(probs, [[1, 0, 0], [0, 1, 0]], atol=1e-300)
    np.testing.assert_allclose(cache["loss"], (0.0 + 1600.0) / 2)
    assert np.all(np.isfinite(cache["probs"]))


def test_he_normal_has_the_variance_that_keeps_the_signal_through_a_relu():
    weights = network.he_normal(np.random.default_rng(0), (20000, 3, 3), fan_in=9)
    assert abs(weights.std() - np.sqrt(2 / 9)) < 0.003 and abs(weights.mean()) < 0.003


def test_prepare_images_pads_with_paper_and_centres():
    images = np.random.default_rng(0).uniform(0, 1, size=(5, 8, 8))
    x = network.prepare_images(images)
    assert x.shape == (5, 1, 10, 10) and x.dtype == np.float64
    np.testing.assert_array_equal(x[:, 0, 1:-1, 1:-1], images - 0.5)
    border = np.ones((10, 10), dtype=bool)
    border[1:-1, 1:-1] = False
    assert np.all(x[:, 0][:, border] == -0.5)
    assert network.prepare_images(images, pad=0).shape == (5, 1, 8, 8)


def test_sgd_momentum_follows_its_formula():
    param = np.array([1.0, -2.0])
    optimizer = network.SGDMomentum(learning_rate=0.1, momentum=0.5)
    grads = [np.array([1.0, 1.0]), np.array([2.0, -4.0])]
    optimizer.step({"p": param}, {"p": grads[0]})
    np.testing.assert_allclose(param, [0.9, -2.1])             # v = -0.1 * g
    optimizer.step({"p": param}, {"p": grads[1]})
    np.testing.assert_allclose(param, [0.9 - 0.05 - 0.2, -2.1 - 0.05 + 0.4])  # v = 0.5 v - 0.1 g


# ---- the whole network, with the reference layers -------------------------------------------------------------

def small_model(seed=0, **kwargs):
    return network.DigitCNN(Convolution2dLayer, MaxPooling2dLayer, np.random.default_rng(seed), **kwargs)


def test_network_shapes_and_parameters():
    model = small_model()
    scores, caches = model.forward(np.zeros((3, 1, 10, 10)))
    assert scores.shape == (3, 10)
    assert caches["conv"]["out"].shape == (3, 16, 8, 8) and caches["pool"]["out"].shape == (3, 16, 4, 4)
    assert {name: p.shape for name, p in model.parameters().items()} == {
        "conv.weights": (16, 3, 3), "dense.weights": (256, 10), "dense.bias": (10,)}
    assert model.parameters()["conv.weights"] is model.conv.weights  # live arrays, updated in place


def test_network_gradients_match_numerical_gradients():
    """Every parameter, through softmax, dense, flatten, the reference pooling, ReLU and the reference conv."""
    rng = np.random.default_rng(3)
    model = small_model(seed=3, image_size=7, n_filters=3, filter_size=2)
    x, labels = rng.normal(size=(4, 1, 7, 7)), rng.integers(0, 10, size=4)
    _, _, grads = model.loss_and_gradients(x, labels)

    def loss():
        return model.loss.forward(model.forward(x)[0], labels)["loss"]

    for name, values in model.parameters().items():
        np.testing.assert_allclose(grads[name], numerical_gradient(loss, values), rtol=1e-5, atol=1e-8,
                                   err_msg=name)


def test_custom_conv_weights_and_evaluate():
    weights = np.full((16, 3, 3), 0.5)
    model = small_model(conv_weights=weights)
    np.testing.assert_array_equal(model.conv.weights, weights)
    x = network.prepare_images(data.load_digits()[0][:20])
    probs = model.predict_proba(x, batch_size=7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    loss, accuracy = model.evaluate(x, probs.argmax(axis=1))
    assert accuracy == 1.0 and loss > 0


def test_the_shipped_digits_are_scikit_learns():
    from sklearn import datasets

    digits = datasets.load_digits()
    images, labels = data.load_digits()
    np.testing.assert_array_equal(images, digits.images / 16.0)
    np.testing.assert_array_equal(labels, digits.target)
    assert images.dtype == np.float64 and images.shape == (1797, 8, 8) and images.min() == 0 and images.max() == 1


def test_the_split_is_a_stratified_partition_fixed_by_its_seed():
    _, labels = data.load_digits()
    train, val, test = data.split_indices(labels, seed=0)
    assert sorted(np.concatenate([train, val, test]).tolist()) == list(range(len(labels)))
    assert (len(train), len(val), len(test)) == (1079, 359, 359)
    per_digit = np.bincount(labels)
    for split, share in [(train, 0.6), (val, 0.2), (test, 0.2)]:
        assert np.all(np.abs(np.bincount(labels[split], minlength=10) - share * per_digit) <= 1)
    again = data.split_indices(labels, seed=0)
    other = data.split_indices(labels, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip((train, val, test), again))
    assert not np.array_equal(test, other[2])


def digits_subset(n_train=200, n_val=60):
    images, labels = data.load_digits()
    x = network.prepare_images(images)
    return x[:n_train], labels[:n_train], x[n_train:n_train + n_val], labels[n_train:n_train + n_val]


def train_once(seed, epochs=2):
    x_train, y_train, x_val, y_val = digits_subset()
    rng = np.random.default_rng(seed)
    model = network.DigitCNN(Convolution2dLayer, MaxPooling2dLayer, rng)
    history = network.train(model, network.SGDMomentum(0.05, 0.9), x_train, y_train, x_val, y_val,
                            epochs=epochs, batch_size=32, rng=rng, progress=False)
    return model, history


def test_training_is_deterministic_with_a_fixed_seed():
    first, first_history = train_once(seed=0)
    second, second_history = train_once(seed=0)
    assert first_history == second_history
    for name, values in first.parameters().items():
        np.testing.assert_array_equal(values, second.parameters()[name], err_msg=name)
    other, other_history = train_once(seed=1)
    assert other_history != first_history
    assert not np.array_equal(other.conv.weights, first.conv.weights)


def test_training_records_every_epoch_and_learns():
    model, history = train_once(seed=0, epochs=3)
    assert history is model.history and [h["epoch"] for h in history] == [1, 2, 3]
    assert set(history[0]) == {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy"}
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["val_accuracy"] > 0.5  # 10% is chance
    x_train, y_train, x_val, y_val = digits_subset()
    network.train(model, network.SGDMomentum(0.05, 0.9), x_train, y_train, x_val, y_val, epochs=1, batch_size=64,
                  rng=np.random.default_rng(0), progress=False)
    assert [h["epoch"] for h in model.history] == [1, 2, 3, 4]  # training again continues


def test_check_test_accuracy_prints_and_fails_below_the_minimum(capsys):
    model, _ = train_once(seed=0, epochs=2)
    _, _, x_val, y_val = digits_subset()
    accuracy = network.check_test_accuracy(model, x_val, y_val, minimum=0.0)
    assert f"Test accuracy: {accuracy:.1%}" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="at least 101% is needed"):
        network.check_test_accuracy(model, x_val, y_val, minimum=1.01)
    with pytest.raises(network.LayersNotReadyError, match="has not been trained"):
        network.check_test_accuracy(small_model(), x_val, y_val)


# ---- loading and checking the student's layers -----------------------------------------------------------------

STUB_CONV = '''
import numpy as np

class Convolution2dLayer(object):
    def __init__(self, filter_size=3, stride=1, n_outchannel=32):
        self.filter_size, self.stride, self.n_outchannel = filter_size, stride, n_outchannel
        self.weights = np.random.uniform(size=(n_outchannel, filter_size, filter_size))

    def forward(self, x):
        raise NotImplementedError("Your code here: replace this line (see the hint above).")

    def backward(self, cache, grad_output):
        raise NotImplementedError("Your code here: replace this line (see the hint above).")
'''


def write_notebook(path, source):
    nbformat.write(new_notebook(cells=[new_code_cell(source)]), path)


def test_the_reference_layers_load_and_pass(capsys):
    conv_cls, pool_cls = network.load_layers(SOLUTIONS)
    assert conv_cls.__name__ == "Convolution2dLayer" and pool_cls.__name__ == "MaxPooling2dLayer"
    network.check_layers(conv_cls, pool_cls)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "training relies on pass" in out


def test_unfinished_layers_stop_with_one_clear_message(tmp_path):
    write_notebook(tmp_path / "01_convolution.ipynb", STUB_CONV)
    write_notebook(tmp_path / "02_max_pooling.ipynb", STUB_CONV.replace("Convolution2dLayer", "MaxPooling2dLayer"))
    conv_cls, pool_cls = network.load_layers(tmp_path)
    with pytest.raises(network.LayersNotReadyError) as info:
        network.check_layers(conv_cls, pool_cls)
    message = str(info.value)
    assert "Your Convolution2dLayer from 01_convolution.ipynb is not finished" in message
    assert "Your MaxPooling2dLayer from 02_max_pooling.ipynb is not finished" in message
    assert "Finish notebooks 01 and 02 first" in message
    assert isinstance(info.value, NotImplementedError)
    model = network.DigitCNN(conv_cls, pool_cls, np.random.default_rng(0))  # building it works
    with pytest.raises(network.LayersNotReadyError, match="Convolution2dLayer from 01_convolution.ipynb is not finished: its method forward"):
        model.forward(np.zeros((2, 1, 10, 10)))


def test_a_wrong_layer_names_the_failing_check():
    class FlippedConvolution(Convolution2dLayer):
        def forward(self, x):
            self.weights = self.weights[:, ::-1, ::-1]
            try:
                return super().forward(x)
            finally:
                self.weights = self.weights[:, ::-1, ::-1]

    with pytest.raises(network.LayersNotReadyError) as info:
        network.check_layers(FlippedConvolution, MaxPooling2dLayer)
    message = str(info.value)
    assert message.startswith("Your Convolution2dLayer from 01_convolution.ipynb does not pass the check "
                              "conv_forward_stride1")
    assert "MaxPooling2dLayer" not in message


class AveragePooling(MaxPooling2dLayer):
    def forward(self, x):
        cache = super().forward(x)
        for out_row, out_col, view in self._get_filtersizeXfiltersize_views(x):
            cache["out"][:, :, out_row, out_col] = view.mean(axis=(2, 3))
        return cache


def test_a_network_on_layers_that_fail_their_checks_is_neither_trained_nor_graded():
    """Average pooling trains well enough; it must still earn nothing, even if the check cell was skipped."""
    model = network.DigitCNN(Convolution2dLayer, AveragePooling, np.random.default_rng(0))
    x_train, y_train, x_val, y_val = digits_subset()
    with pytest.raises(network.LayersNotReadyError, match="does not pass the check pool_forward"):
        network.train(model, network.SGDMomentum(0.05, 0.9), x_train, y_train, x_val, y_val, epochs=1, batch_size=32,
                      rng=np.random.default_rng(0), progress=False)
    model.history.append({"epoch": 1})  # as if it had been trained anyway
    with pytest.raises(network.LayersNotReadyError, match="does not pass the check pool_forward"):
        network.check_test_accuracy(model, x_val, y_val)


def test_missing_notebooks_give_placeholders_that_explain(tmp_path):
    conv_cls, pool_cls = network.load_layers(tmp_path)
    with pytest.raises(network.LayersNotReadyError) as info:
        network.check_layers(conv_cls, pool_cls)
    assert "could not be loaded from 01_convolution.ipynb" in str(info.value)
    assert "could not be loaded from 02_max_pooling.ipynb" in str(info.value)
    model = network.DigitCNN(conv_cls, pool_cls, np.random.default_rng(0))
    with pytest.raises(network.LayersNotReadyError, match="could not be loaded"):
        model.predict(np.zeros((2, 1, 10, 10)))


# ---- figures ------------------------------------------------------------------------------------------------------

def test_every_figure_draws():
    model, _ = train_once(seed=0, epochs=2)
    images, labels = data.load_digits()
    x = network.prepare_images(images[:40])
    probs = model.predict_proba(x)
    _, caches = model.forward(x[:3])
    figures = [
        training_plots.plot_digit_samples(images[:100], labels[:100], per_class=3),
        training_plots.plot_preprocessing(images[0], x[0, 0]),
        training_plots.plot_initial_feature_maps(x[0, 0], {"a": caches["conv"]["out"][0],
                                                           "b": caches["conv"]["out"][1]}),
        training_plots.plot_learning_curves(model),
        training_plots.plot_confusion_matrix(labels[:40], probs.argmax(axis=1)),
        training_plots.plot_learned_filters(model, data.hand_made_filters()),
        training_plots.plot_layer_outputs(x[:3, 0], caches["conv"]["out"], caches["pool"]["out"], model.conv.weights),
        training_plots.plot_misclassified(images[:40], labels[:40], probs.argmax(axis=1), probs),
        training_plots.plot_misclassified(images[:40], labels[:40], labels[:40], probs),  # no mistakes
    ]
    assert all(isinstance(fig, Figure) for fig in figures)


@pytest.mark.parametrize("plot", [lambda model: training_plots.plot_learning_curves(model),
                                  lambda model: training_plots.plot_learned_filters(model, data.hand_made_filters())])
def test_figures_of_an_untrained_network_say_why_they_cannot_be_drawn(plot):
    with pytest.raises(network.LayersNotReadyError, match="has not been trained"):
        plot(small_model())


# ---- the reference notebook -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def executed_reference():
    notebook = cells.read(SOLUTIONS / "03_training.ipynb")
    for cell in notebook.cells:  # nothing may fail in the reference, tagged or not
        cell.metadata.pop("tags", None)
    return cells.execute(notebook, SOLUTIONS)


def cell_text(notebook, grade_id):
    (cell,) = [cell for cell in notebook.cells if cells.grade_id(cell) == grade_id]
    return "".join(output.get("text", "") for output in cell.outputs if output.output_type == "stream")


def test_reference_notebook_reaches_the_accuracy_target(executed_reference):
    text = cell_text(executed_reference, "cnn_test_accuracy")
    accuracy = float(re.search(r"Test accuracy: ([\d.]+)%", text).group(1)) / 100
    assert accuracy >= 0.97, text


def test_reference_notebook_checks_the_layers_and_shows_a_progress_bar_per_epoch(executed_reference):
    assert "training relies on pass" in cell_text(executed_reference, "load_layers")
    (train_cell,) = [cell for cell in executed_reference.cells if cells.grade_id(cell) == "train"]
    bars = [output for output in train_cell.outputs if output.output_type == "display_data"
            or (output.output_type == "stream" and output.name == "stderr")]
    assert len(bars) >= 15  # one tqdm bar per epoch (widgets in a kernel)


def test_notebook_metadata():
    notebook = cells.read(SOLUTIONS / "03_training.ipynb")
    ids = [cells.grade_id(cell) for cell in notebook.cells]
    assert None not in ids and len(ids) == len(set(ids))
    graded = [cell for cell in notebook.cells if cells.is_graded(cell)]
    assert [cells.grade_id(cell) for cell in graded] == ["cnn_test_accuracy"]
    assert graded[0].metadata.nbgrader["points"] > 0 and cells.is_expected_to_fail(graded[0])
    assert not any(cell.metadata.nbgrader.get("solution") for cell in notebook.cells)  # nothing to write here
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
