"""The pieces of notebook 3 that the kit provides around the student's two layers.

The student writes ``Convolution2dLayer`` (notebook 1) and ``MaxPooling2dLayer`` (notebook 2); this module
loads them from the student's notebooks, checks them, and adds what a digit classifier needs besides:
ReLU, flatten, a dense layer, softmax with cross-entropy, the network that chains them, SGD with
momentum and the training loop.

Every layer follows the course's API: ``forward(x)`` returns a cache dict holding at least ``"x"`` (the
input) and ``"out"`` (the output), and ``backward(cache, grad_output)`` takes dL/dout and returns gradients.
Notation: N batch size, F filters, k filter size, D features entering the dense layer, K classes.
"""

import contextlib
import io
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from cnnkit import checks, data
from cnnkit.notebook_loader import CELL_TIMEOUT, NotebookLoadError, classes_in, run_code

CONV_NOTEBOOK = "01_convolution.ipynb"
POOL_NOTEBOOK = "02_max_pooling.ipynb"
STACKING_NOTEBOOK = "04_layers_that_stack.ipynb"
FINISH_FIRST = ("Finish notebooks 01 and 02 first (until all their checks pass), save them (Ctrl+S: this notebook "
                "reads the saved files), then restart this notebook's kernel and run it again.")


# Notebook 03's choices, written out in its cells for the student to read (tests/test_one_source.py ties them);
# its network's architecture is DigitCNN's defaults.
SEED = 0
TRAINING = dict(epochs=15, batch_size=32, learning_rate=0.05, momentum=0.9)
MINIMUM_ACCURACY = 0.90  # of the test digits, for the points of notebook 03 (in the kernel and in the kit's verdict)
# Epochs of notebook 03's training when nbgrader grades or validates it (it sets NBGRADER_EXECUTION; make check
# does too), and of the kit's verdict: with correct layers the network reads at least 93% of the test digits after
# 2 epochs, with every one of 20 seeds (tests/test_verdict.py), and layers that fail a check training relies on
# fail before any training.
GRADING_EPOCHS = 2


class LayersNotReadyError(NotImplementedError):
    """The student's layers from notebooks 1 and 2 are missing, unfinished or wrong, so the network cannot run."""


# ---- the student's layers ------------------------------------------------------------------------------

def _placeholder(class_name, message):
    """A stand-in for a class that could not be loaded: it can be built, but using it raises the message."""

    def fail(self, *args, **kwargs):
        raise LayersNotReadyError(message)

    def init(self, filter_size=2, stride=1, n_outchannel=1):
        self.filter_size, self.stride, self.n_outchannel = filter_size, stride, n_outchannel
        self.weights = np.zeros((n_outchannel, filter_size, filter_size))

    return type(class_name, (), {"__init__": init, "forward": fail, "backward": fail, "load_error": message,
                                 "__doc__": f"Placeholder: {message}"})


def load_layers(folder="."):
    """The student's ``Convolution2dLayer`` and ``MaxPooling2dLayer``, from the notebooks 01 and 02 in ``folder``.

    Each notebook's code runs as the student ran it, quietly and without the kit's checks and figures (see
    :mod:`cnnkit.notebook_loader`): in the student's folder that is the student's code, in ``solutions/`` the
    reference. A cell that fails or runs past the time limit is reported in one line and the rest goes on. Never
    raises for the student's code: a class that cannot be loaded is replaced by a placeholder whose ``forward``
    and ``backward`` raise :class:`LayersNotReadyError` saying why, and :func:`check_layers` reports it.

    :param folder: the folder holding the notebooks; the default "." is the notebook's own folder, the
        kernel's working directory in JupyterLab, nbclient, nbval and nbgrader.
    :returns: (Convolution2dLayer, MaxPooling2dLayer), the two classes.
    """
    loaded = []
    for notebook, name in ((CONV_NOTEBOOK, "Convolution2dLayer"), (POOL_NOTEBOOK, "MaxPooling2dLayer")):
        try:
            namespace, problems = run_code(Path(folder) / notebook, cell_timeout=CELL_TIMEOUT)
            for problem in problems:
                print(f"Note: while loading {name}, {problem} in {notebook}.")
            loaded.append(classes_in(namespace, [name], problems, notebook)[name])
        except NotebookLoadError as error:
            loaded.append(_placeholder(name, f"Your {name} could not be loaded from {notebook}: {error}. "
                                             f"{FINISH_FIRST}"))
    return tuple(loaded)


LAYER_CHECKS = [  # (role, class name, notebook, the checks that training relies on)
    ("conv", "Convolution2dLayer", CONV_NOTEBOOK, [checks.conv_forward_stride1, checks.conv_backward_stride1]),
    ("pool", "MaxPooling2dLayer", POOL_NOTEBOOK, [checks.pool_forward, checks.pool_backward]),
]
# Notebook 04's deeper network: its conv layers (the vectorised ones, or the loop ones: same API) and its pooling.
STACKING_CHECKS = [
    ("conv", "FastConv2dLayer", STACKING_NOTEBOOK, [checks.fastconv2d]),
    ("pool", "MaxPool2dLayer", STACKING_NOTEBOOK, [checks.pool2d_forward, checks.pool2d_backward]),
]


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _raising_method(error, notebook):
    """Name of the innermost function defined in ``notebook`` (a student's method) in the traceback of ``error``."""
    name, tb = None, error.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(notebook):  # the loader compiles cells as "<notebook>, code cell i"
            name = tb.tb_frame.f_code.co_name
        tb = tb.tb_next
    return name


def check_layers(conv_cls, pool_cls, layer_checks=LAYER_CHECKS):
    """Run the visible checks that training relies on (by default notebook 03's: stride 1 forward and backward of
    the convolution, forward and backward of the pooling), and stop with one clear message if any of them fails.

    :param conv_cls: the student's convolution class (``Convolution2dLayer``, or notebook 04's).
    :param pool_cls: the student's pooling class.
    :param layer_checks: :data:`LAYER_CHECKS` or :data:`STACKING_CHECKS`.
    :raises LayersNotReadyError: listing, for each class, the first check that fails and why.
    """
    problems = []
    for cls, (_, name, notebook, class_checks) in zip((conv_cls, pool_cls), layer_checks):
        if getattr(cls, "load_error", None):
            problems.append(cls.load_error.replace(f" {FINISH_FIRST}", ""))
            continue
        for check in class_checks:
            try:
                with contextlib.redirect_stdout(io.StringIO()):  # the checks' success lines are not news here
                    check(cls)
            except NotImplementedError as error:
                method = _raising_method(error, notebook)
                where = f"its method {method}" if method else "a line of it"
                problems.append(f"Your {name} from {notebook} is not finished: {where} still raises "
                                f"NotImplementedError (found by the check {check.__name__}).")
                break
            except checks.CheckFailed as error:
                problems.append(f"Your {name} from {notebook} does not pass the check {check.__name__}: "
                                f"{_first_line(error)} (that notebook's checks give the full diagnosis).")
                break
            except Exception as error:  # a crash inside the student's code
                problems.append(f"Your {name} from {notebook} fails in the check {check.__name__} with "
                                f"{type(error).__name__}: {_first_line(error)}.")
                break
    if problems:
        raise LayersNotReadyError("\n".join(problems + ([FINISH_FIRST] if layer_checks is LAYER_CHECKS else [])))
    names = ", ".join(check.__name__ for *_, class_checks in layer_checks for check in class_checks)
    if layer_checks is LAYER_CHECKS:
        print(f"Convolution2dLayer from {CONV_NOTEBOOK} and MaxPooling2dLayer from {POOL_NOTEBOOK}: loaded; the "
              f"checks training relies on pass ({names}). The other checks of notebooks 1 and 2 (strides, a batch of "
              "one, ties) are graded there.")
    else:
        print(f"{conv_cls.__name__} and {pool_cls.__name__}: the checks training relies on pass ({names}).")


def require_checked_layers(model):
    """Run :func:`check_layers` quietly on the classes of ``model``'s conv and pooling layers.

    Training and the graded accuracy test call it, so a network whose layers fail their checks is never
    trained or graded, even when the check cell at the top of the notebook was skipped or its error ignored.
    :raises LayersNotReadyError: as :func:`check_layers`.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        check_layers(type(model.conv), type(model.pool), model.layer_checks)


def _student_call(model, role, layer, method, *args):
    """``layer.method(*args)``, turning a stub's NotImplementedError into a LayersNotReadyError that says where.

    :param model: the network, whose ``layer_checks`` name the student's classes and their notebook.
    :param role: "conv" or "pool", which of the student's layers this is.
    """
    try:
        return getattr(layer, method)(*args)
    except LayersNotReadyError:
        raise
    except NotImplementedError as error:
        name, notebook = next((name, notebook) for each, name, notebook, _ in model.layer_checks if each == role)
        raising = _raising_method(error, notebook) or method
        finish = f" {FINISH_FIRST}" if model.layer_checks is LAYER_CHECKS else ""
        raise LayersNotReadyError(f"Your {type(layer).__name__} from {notebook} is not finished: its method {raising} "
                                  f"still raises NotImplementedError.{finish}") from error


# ---- data and initialisation -----------------------------------------------------------------------------

def prepare_images(images, pad=1):
    """Digit images in [0, 1] -> network input: add the channel axis, pad with paper, centre on 0.

    :param images: (M, H, W) array, 0 = paper (background), 1 = darkest ink.
    :param pad: width of the ring of paper added around each image (the layer has no padding of its own).
    :returns: (M, 1, H + 2 pad, W + 2 pad) array with values in [-0.5, 0.5]: paper -0.5, ink up to +0.5.
    """
    padded = np.pad(np.asarray(images, dtype=np.float64), ((0, 0), (pad, pad), (pad, pad)))  # 0 = paper
    return padded[:, None] - 0.5


def he_normal(rng, shape, fan_in):
    """Weights for a layer followed by a ReLU: normal, mean 0, standard deviation sqrt(2 / fan_in).

    :param rng: a ``numpy.random.Generator``.
    :param shape: shape of the weight array.
    :param fan_in: number of inputs that each output sums over (k * k for a single-channel conv filter).
    """
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=shape)


def lecun_normal(rng, shape, fan_in):
    """Weights for a layer with no ReLU after it: normal, mean 0, standard deviation sqrt(1 / fan_in)."""
    return rng.normal(0.0, np.sqrt(1.0 / fan_in), size=shape)


# ---- the provided layers -----------------------------------------------------------------------------------

class ReLULayer(object):
    """out = max(0, x), element-wise, any shape."""

    def forward(self, x):
        """:returns: cache with "x" and "out" = max(0, x), same shape as x."""
        return {"x": x, "out": np.maximum(x, 0.0)}

    def backward(self, cache, grad_output):
        """:returns: dL/dx = grad_output where x > 0, 0 elsewhere (the derivative at 0 is taken as 0)."""
        return grad_output * (cache["x"] > 0)


class FlattenLayer(object):
    """(N, C, H, W) -> (N, C * H * W): each image's feature maps laid out as one vector, for the dense layer."""

    def forward(self, x):
        """:returns: cache with "x" and "out" of shape (N, C * H * W), in C order (channel, row, column)."""
        return {"x": x, "out": x.reshape(x.shape[0], -1)}

    def backward(self, cache, grad_output):
        """:returns: dL/dx, the (N, D) grad_output put back into the shape of x."""
        return grad_output.reshape(cache["x"].shape)


class DenseLayer(object):
    """Fully connected layer: out = x @ weights + bias, weights (D, K), bias (K,)."""

    def __init__(self, n_in, n_out, rng):
        """
        :param n_in: number of input features D.
        :param n_out: number of outputs K.
        :param rng: ``numpy.random.Generator`` for the initial weights (LeCun normal; the bias starts at 0).
        """
        self.weights = lecun_normal(rng, (n_in, n_out), fan_in=n_in)
        self.bias = np.zeros(n_out)

    def forward(self, x):
        """:param x: (N, D). :returns: cache with "x" and "out" of shape (N, K)."""
        return {"x": x, "out": x @ self.weights + self.bias}

    def backward(self, cache, grad_output):
        """
        :param grad_output: dL/dout, shape (N, K).
        :returns: (dL/dx of shape (N, D), {"weights": dL/dweights (D, K), "bias": dL/dbias (K,)}), summed over
                  the batch.
        """
        grads = {"weights": cache["x"].T @ grad_output, "bias": grad_output.sum(axis=0)}
        return grad_output @ self.weights.T, grads


def softmax(scores):
    """Row-wise softmax of (N, K) scores, computed stably (the row maximum is subtracted first)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class SoftmaxCrossEntropyLoss(object):
    """Mean cross-entropy of the softmax of the scores: L = -1/N sum_n log p[n, y_n]."""

    def forward(self, scores, labels):
        """
        :param scores: (N, K) unnormalised class scores (logits).
        :param labels: (N,) integer classes in 0..K-1.
        :returns: cache with "scores", "labels", "probs" (N, K) and "loss" (a float).
        """
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))  # log-sum-exp, no overflow
        loss = -np.mean(log_probs[np.arange(len(labels)), labels])
        return {"scores": scores, "labels": labels, "probs": np.exp(log_probs), "loss": float(loss)}

    def backward(self, cache):
        """:returns: dL/dscores = (probs - one_hot(labels)) / N, shape (N, K)."""
        grad = cache["probs"].copy()
        grad[np.arange(len(cache["labels"])), cache["labels"]] -= 1.0
        return grad / len(cache["labels"])


# ---- the network ---------------------------------------------------------------------------------------------

class _Classifier(object):
    """What the networks share: the loss with its gradients, and predictions in batches. A subclass has
    ``forward(x) -> (scores (N, K), caches)``, ``backward(caches, grad_scores) -> gradients by parameter name``,
    ``parameters()``, ``loss`` and ``history``, and names its student layers' checks in ``layer_checks``."""

    def loss_and_gradients(self, x, labels):
        """One forward and backward pass. :returns: (loss, probs (N, K), gradients by parameter name)."""
        scores, caches = self.forward(x)
        loss_cache = self.loss.forward(scores, labels)
        grads = self.backward(caches, self.loss.backward(loss_cache))
        return loss_cache["loss"], loss_cache["probs"], grads

    def predict_proba(self, x, batch_size=512):
        """Class probabilities (N, K) of the images x (N, 1, H, W), computed in batches."""
        return np.concatenate([softmax(self.forward(x[i:i + batch_size])[0]) for i in range(0, len(x), batch_size)])

    def predict(self, x, batch_size=512):
        """The most probable class of each image, (N,) ints."""
        return self.predict_proba(x, batch_size).argmax(axis=1)

    def evaluate(self, x, labels, batch_size=512):
        """(mean cross-entropy, accuracy) on the images x and their labels."""
        probs = self.predict_proba(x, batch_size)
        loss = -np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], 1e-300)))
        return float(loss), float(np.mean(probs.argmax(axis=1) == labels))


class DigitCNN(_Classifier):
    """conv (student) -> ReLU -> max-pool (student) -> flatten -> dense -> softmax.

    Shapes for the default 10 x 10 input (8 x 8 digits padded by 1), 16 filters 3 x 3, pooling 2:
    (N, 1, 10, 10) -> conv (N, 16, 8, 8) -> ReLU -> pool (N, 16, 4, 4) -> flatten (N, 256) -> dense (N, 10).
    """

    layer_checks = LAYER_CHECKS

    def __init__(self, conv_cls, pool_cls, rng, image_size=10, n_filters=16, filter_size=3, pool_size=2,
                 n_classes=10, conv_weights=None):
        """
        :param conv_cls: the ``Convolution2dLayer`` class to use (the student's).
        :param pool_cls: the ``MaxPooling2dLayer`` class to use (the student's).
        :param rng: ``numpy.random.Generator`` for the initial weights.
        :param image_size: height and width of the (square) input.
        :param conv_weights: (n_filters, filter_size, filter_size) initial filters; default He normal.
        """
        self.conv = conv_cls(filter_size=filter_size, stride=1, n_outchannel=n_filters)
        shape = (n_filters, filter_size, filter_size)
        self.conv.weights = he_normal(rng, shape, fan_in=filter_size * filter_size) if conv_weights is None \
            else np.array(conv_weights, dtype=np.float64).reshape(shape)
        self.relu = ReLULayer()
        self.pool = pool_cls(filter_size=pool_size)
        self.flatten = FlattenLayer()
        pooled = (image_size - filter_size + 1) // pool_size
        self.dense = DenseLayer(n_filters * pooled * pooled, n_classes, rng)
        self.loss = SoftmaxCrossEntropyLoss()
        self.history = []  # one dict per trained epoch, filled by train()

    def parameters(self):
        """The trainable arrays by name (the live arrays, updated in place by the optimiser)."""
        return {"conv.weights": self.conv.weights, "dense.weights": self.dense.weights,
                "dense.bias": self.dense.bias}

    def forward(self, x):
        """:param x: (N, 1, H, W). :returns: (scores (N, K), caches: dict layer name -> cache)."""
        caches = {"conv": _student_call(self, "conv", self.conv, "forward", x)}
        caches["relu"] = self.relu.forward(caches["conv"]["out"])
        caches["pool"] = _student_call(self, "pool", self.pool, "forward", caches["relu"]["out"])
        caches["flatten"] = self.flatten.forward(caches["pool"]["out"])
        caches["dense"] = self.dense.forward(caches["flatten"]["out"])
        return caches["dense"]["out"], caches

    def backward(self, caches, grad_scores):
        """Back-propagate dL/dscores (N, K) through every layer. :returns: gradients by parameter name."""
        grad_flat, dense_grads = self.dense.backward(caches["dense"], grad_scores)
        grad_pooled = self.flatten.backward(caches["flatten"], grad_flat)
        grad_relu_out = _student_call(self, "pool", self.pool, "backward", caches["pool"], grad_pooled)
        grad_conv_out = self.relu.backward(caches["relu"], grad_relu_out)
        grad_conv_weights = _student_call(self, "conv", self.conv, "backward", caches["conv"], grad_conv_out)
        # No gradient with respect to the image: the conv layer is the first one, nothing before it learns.
        return {"conv.weights": grad_conv_weights, "dense.weights": dense_grads["weights"],
                "dense.bias": dense_grads["bias"]}

class StackedDigitCNN(_Classifier):
    """conv -> ReLU -> ... -> conv -> ReLU -> max-pool -> flatten -> dense -> softmax, from notebook 04's layers.

    Every conv has ``filter_size`` x ``filter_size`` filters, stride 1, ``padding`` and a bias; ``channels`` gives
    the number of filters of each conv, in order. Shapes for the defaults (10 x 10 input, channels (8, 16),
    padding 1, pooling 2): (N, 1, 10, 10) -> conv (N, 8, 10, 10) -> ReLU -> conv (N, 16, 10, 10) -> ReLU ->
    pool (N, 16, 5, 5) -> flatten (N, 400) -> dense (N, 10). ``channels=(16,), padding=0`` is notebook 03's network.
    """

    layer_checks = STACKING_CHECKS

    def __init__(self, conv_cls, pool_cls, rng, image_size=10, channels=(8, 16), filter_size=3, padding=1,
                 pool_size=2, n_classes=10):
        """
        :param conv_cls: a class with notebook 04's conv API (the student's FastConv2dLayer or Conv2dLayer).
        :param pool_cls: the student's MaxPool2dLayer (stride = its filter size here).
        :param rng: ``numpy.random.Generator`` for the initial weights (He normal filters, zero biases).
        """
        self.convs, n_in, size = [], 1, image_size
        for n_out in channels:
            conv = conv_cls(n_inchannel=n_in, n_outchannel=n_out, filter_size=filter_size, stride=1, padding=padding)
            conv.weights = he_normal(rng, (n_out, n_in, filter_size, filter_size), fan_in=n_in * filter_size ** 2)
            conv.bias = np.zeros(n_out)
            self.convs.append(conv)
            n_in, size = n_out, size + 2 * padding - filter_size + 1
        self.conv = self.convs[0]  # the class whose checks training relies on
        self.relus = [ReLULayer() for _ in channels]
        self.pool = pool_cls(filter_size=pool_size)
        self.flatten = FlattenLayer()
        pooled = size // pool_size
        self.dense = DenseLayer(n_in * pooled * pooled, n_classes, rng)
        self.loss = SoftmaxCrossEntropyLoss()
        self.history = []

    def parameters(self):
        """The trainable arrays by name: conv1.weights, conv1.bias, ..., dense.weights, dense.bias."""
        found = {}
        for number, conv in enumerate(self.convs, start=1):
            found[f"conv{number}.weights"], found[f"conv{number}.bias"] = conv.weights, conv.bias
        return {**found, "dense.weights": self.dense.weights, "dense.bias": self.dense.bias}

    def forward(self, x):
        """:param x: (N, 1, H, W). :returns: (scores (N, K), caches: dict layer name -> cache)."""
        caches, out = {}, x
        for number, (conv, relu) in enumerate(zip(self.convs, self.relus), start=1):
            caches[f"conv{number}"] = _student_call(self, "conv", conv, "forward", out)
            caches[f"relu{number}"] = relu.forward(caches[f"conv{number}"]["out"])
            out = caches[f"relu{number}"]["out"]
        caches["pool"] = _student_call(self, "pool", self.pool, "forward", out)
        caches["flatten"] = self.flatten.forward(caches["pool"]["out"])
        caches["dense"] = self.dense.forward(caches["flatten"]["out"])
        return caches["dense"]["out"], caches

    def backward(self, caches, grad_scores):
        """Back-propagate dL/dscores (N, K) through every layer; each conv hands dL/dx to the layer before it.

        :returns: gradients by parameter name.
        """
        grad, dense_grads = self.dense.backward(caches["dense"], grad_scores)
        grads = {"dense.weights": dense_grads["weights"], "dense.bias": dense_grads["bias"]}
        grad = _student_call(self, "pool", self.pool, "backward", caches["pool"], self.flatten.backward(
            caches["flatten"], grad))
        for number in range(len(self.convs), 0, -1):
            grad = self.relus[number - 1].backward(caches[f"relu{number}"], grad)
            conv_grads = _student_call(self, "conv", self.convs[number - 1], "backward", caches[f"conv{number}"], grad)
            grads[f"conv{number}.weights"], grads[f"conv{number}.bias"] = conv_grads["weights"], conv_grads["bias"]
            grad = conv_grads["x"]
        return grads


# ---- training ----------------------------------------------------------------------------------------------

class SGDMomentum(object):
    """Mini-batch SGD with momentum: v <- momentum * v - learning_rate * grad, then param <- param + v."""

    def __init__(self, learning_rate, momentum):
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.velocity = {}  # by parameter name, created at the first step

    def step(self, parameters, grads):
        """Update every array of ``parameters`` (dict name -> array) in place with ``grads`` (same names)."""
        for name, param in parameters.items():
            velocity = self.velocity.setdefault(name, np.zeros_like(param))
            velocity *= self.momentum
            velocity -= self.learning_rate * grads[name]
            param += velocity


def cosine_decay(base, epoch, epochs):
    """The learning rate of epoch ``epoch`` (0, 1, ..., epochs - 1) when it decays from ``base`` along half a cosine:
    base * (1 + cos(pi * epoch / epochs)) / 2, so large steps first and ever smaller ones at the end."""
    return base * (1 + np.cos(np.pi * epoch / epochs)) / 2


def train(model, optimizer, x_train, y_train, x_val, y_val, epochs, batch_size, rng, progress=True, decay=False):
    """Train ``model`` with mini-batches drawn in a new random order every epoch.

    One progress bar per epoch shows the running mean loss and accuracy on the training batches seen so
    far; at the end of the epoch the validation loss and accuracy are added.

    :param rng: ``numpy.random.Generator`` for the order of the examples: the same seed, the same training.
    :param progress: False hides the progress bars.
    :param decay: True lowers the optimiser's learning rate before each epoch with :func:`cosine_decay` (from its
        value when this call starts, which is restored at the end).
    :raises LayersNotReadyError: if the layers fail their checks (see :func:`require_checked_layers`).
    :returns: ``model.history``, to which one dict per epoch is appended: epoch, train_loss,
              train_accuracy (running means over the epoch), val_loss, val_accuracy (after the epoch).
    """
    require_checked_layers(model)
    base = optimizer.learning_rate
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            return _train(model, optimizer, x_train, y_train, x_val, y_val, epochs, batch_size, rng, progress, decay)
    finally:
        optimizer.learning_rate = base


def _train(model, optimizer, x_train, y_train, x_val, y_val, epochs, batch_size, rng, progress, decay):
    """:func:`train`'s loop. A mini-batch makes small matrices, which BLAS multiplies fastest on one thread: more
    threads wait for each other (notebook 04's deeper network trained 5 times slower with two threads on a busy
    2-core machine)."""
    n = len(x_train)
    n_batches = -(-n // batch_size)
    start_epoch, base = len(model.history), optimizer.learning_rate
    for epoch in range(start_epoch + 1, start_epoch + epochs + 1):
        if decay:
            optimizer.learning_rate = cosine_decay(base, epoch - start_epoch - 1, epochs)
        order = rng.permutation(n)
        total_loss, correct, seen = 0.0, 0, 0
        with tqdm(total=n_batches, desc=f"epoch {epoch:2d}/{start_epoch + epochs}", unit="batch",
                  disable=not progress, leave=True) as bar:
            for start in range(0, n, batch_size):
                batch = order[start:start + batch_size]
                loss, probs, grads = model.loss_and_gradients(x_train[batch], y_train[batch])
                optimizer.step(model.parameters(), grads)
                total_loss += loss * len(batch)
                correct += int(np.sum(probs.argmax(axis=1) == y_train[batch]))
                seen += len(batch)
                bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.1%}", refresh=False)
                bar.update()
            val_loss, val_accuracy = model.evaluate(x_val, y_val)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.1%}",
                            val_loss=f"{val_loss:.3f}", val_acc=f"{val_accuracy:.1%}")
        model.history.append({"epoch": epoch, "train_loss": total_loss / seen, "train_accuracy": correct / seen,
                              "val_loss": val_loss, "val_accuracy": val_accuracy})
    return model.history


def require_trained(model):
    """Raise :class:`LayersNotReadyError` if ``model`` has not been trained for a single epoch."""
    if not model.history:
        raise LayersNotReadyError("The network has not been trained: the training cell did not run to the end, "
                                  "most likely because your layers from notebooks 01 and 02 are not finished. "
                                  + FINISH_FIRST)


def check_test_accuracy(model, x_test, y_test, minimum=MINIMUM_ACCURACY):
    """Measure the accuracy on the test split, print it, and fail below ``minimum``.

    :returns: the test accuracy.
    :raises LayersNotReadyError: if the layers fail their checks (see :func:`require_checked_layers`).
    :raises AssertionError: if it is below ``minimum``, with the number of digits read right.
    """
    require_checked_layers(model)
    require_trained(model)
    predictions = model.predict(x_test)
    right = int(np.sum(predictions == y_test))
    accuracy = right / len(y_test)
    print(f"Test accuracy: {accuracy:.1%} ({right} of {len(y_test)} held-out digits read correctly).")
    assert accuracy >= minimum, (
        f"The network trained with your layers reads {accuracy:.1%} of the test digits correctly; at least "
        f"{minimum:.0%} is needed. If the check at the top of this notebook passed, look at the training "
        f"curves (did the loss go down?) and at the hyperparameters (were they changed?).")
    return accuracy


def split_digits(seed=SEED):
    """Notebook 03's data: the digits prepared and split 60/20/20 (stratified) as in its cells.

    :returns: x_train, y_train, x_val, y_val, x_test, y_test; x of shape (N, 1, 10, 10), y of shape (N,).
    """
    images, labels = data.load_digits()
    x_all = prepare_images(images)
    return tuple(array[idx] for idx in data.split_indices(labels, seed=seed) for array in (x_all, labels))


def train_digit_cnn(conv_cls, pool_cls, seed=SEED, epochs=TRAINING["epochs"]):
    """Train notebook 03's network (same data, seed and hyperparameters) with these layer classes, quietly.

    The grader runs it on the student's layers to compute the accuracy verdict outside the kernel.
    :returns: (model, x_test, y_test).
    """
    x_train, y_train, x_val, y_val, x_test, y_test = split_digits(seed)
    rng = np.random.default_rng(seed)
    model = DigitCNN(conv_cls, pool_cls, rng=rng)
    train(model, SGDMomentum(learning_rate=TRAINING["learning_rate"], momentum=TRAINING["momentum"]), x_train,
          y_train, x_val, y_val, epochs=epochs, batch_size=TRAINING["batch_size"], rng=rng, progress=False)
    return model, x_test, y_test
