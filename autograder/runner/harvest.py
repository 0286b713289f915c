"""Call the student's layers on given inputs and save what they return; judging is the grader's job.

``python -I -m autograder.runner.harvest CALLS.npz RESULTS_DIR FIRST``, run by :mod:`autograder.verdict` inside
the sandbox, in a scratch folder holding copies of the student's notebooks and nothing else.

CALLS.npz holds the calls, keyed ``<index>/<field>``: ``kind`` ("views", "forward", "backward" or
"train"), ``layer`` ("conv" or "pool") and the inputs (``x``, ``k``, ``stride``, ``weights``,
``grad_output``, ``cache_out``, ``max_items``). For each call from index FIRST on, this writes
``RESULTS_DIR/<index>.npz``: plain arrays, or strings saying what came back instead of an array
(``"type:..."``, ``"dtype:..."``, ``"missing"``), or ``error`` (the exception raised). Nothing here
decides anything: the student's code runs in this process and could change any of it, so the grader
compares the saved outputs with the expected ones in its own process.
"""

import inspect
import os
import sys
from pathlib import Path

import numpy as np

from cnnkit.notebook_loader import NotebookLoadError, load_classes

_ndarray, _dict, _type, _isinstance = np.ndarray, dict, type, isinstance  # taken before any student code runs
NUMERIC_KINDS = "biuf"
# The notebooks and classes of cnnkit.network, spelled out: importing it (and SciPy through it) would cost a
# second and a half per process, and only the training call needs it.
CLASSES = {"conv": ("01_convolution.ipynb", "Convolution2dLayer"), "pool": ("02_max_pooling.ipynb", "MaxPooling2dLayer")}


def _describe(error):
    """'TypeError: message' for an exception, whatever its __str__ does."""
    try:
        text = str(error)
    except BaseException:
        text = "(its message cannot be shown)"
    return f"{_type(error).__name__}: {text}"[:500]


def _array(value):
    """A plain copy of ``value`` if it is a numeric numpy array, else a string saying what it is."""
    kind = _type(value)
    if kind is not _ndarray:
        return f"type:{getattr(kind, '__name__', '?')}"
    if value.dtype.kind not in NUMERIC_KINDS:
        return f"dtype:{value.dtype}"
    return np.array(value, copy=True)


def _layer(cls, call):
    k = int(call["k"])
    if call["layer"] == "pool":
        return cls(filter_size=k)
    n_filters = call["weights"].shape[0] if "weights" in call else 2
    layer = cls(filter_size=k, stride=int(call["stride"]), n_outchannel=n_filters)
    if "weights" in call:
        layer.weights = call["weights"].copy()
    return layer


def _views(cls, call):
    views = getattr(_layer(cls, call), "_get_filtersizeXfiltersize_views")(call["x"].copy())
    result = {"generator": np.array(inspect.isgenerator(views))}
    rows, cols = [], []
    for number, item in enumerate(views):
        if number >= int(call["max_items"]):
            break
        if not (_type(item) is tuple and len(item) == 3):
            result["item_type"] = f"item {number} is {_type(item).__name__}"
            break
        for indices, value in ((rows, item[0]), (cols, item[1])):
            indices.append(int(value) if _isinstance(value, (int, np.integer)) else -1)
        result[f"view/{number}"] = _array(item[2])
    result["rows"], result["cols"] = np.array(rows, dtype=int), np.array(cols, dtype=int)
    return result


def _forward(cls, call):
    cache = _layer(cls, call).forward(call["x"].copy())
    if not _isinstance(cache, _dict):
        return {"cache": f"type:{_type(cache).__name__}"}
    return {key: _array(cache[key]) if key in cache else "missing" for key in ("x", "out")}


def _backward(cls, call):
    cache = {"x": call["x"].copy(), "out": call["cache_out"].copy()}
    return {"grads": _array(_layer(cls, call).backward(cache, call["grad_output"].copy()))}


def _train(classes, call):
    from cnnkit import network

    model, x_test, _ = network.train_digit_cnn(classes["conv"], classes["pool"])
    return {"predictions": _array(model.predict(x_test))}


def _load(layers, loaded):
    """{layer: class} for these layers, loading each from its notebook once."""
    for layer in layers:
        if layer not in loaded:
            notebook, name = CLASSES[layer]
            try:
                loaded[layer] = load_classes(notebook, name)[name]
            except NotebookLoadError as error:
                loaded[layer] = error
            except BaseException as error:  # the class cell itself failed in some other way
                loaded[layer] = NotebookLoadError(_describe(error))
    return {layer: loaded[layer] for layer in layers}


def _run(call, loaded):
    layers = ["conv", "pool"] if call["kind"] == "train" else [str(call["layer"])]
    classes = _load(layers, loaded)
    for layer, cls in classes.items():
        if _isinstance(cls, Exception):
            return {"error": f"{CLASSES[layer][1]} could not be loaded: {cls}"}
    try:
        if call["kind"] == "train":
            return _train(classes, call)
        return {"views": _views, "forward": _forward, "backward": _backward}[str(call["kind"])](
            classes[str(call["layer"])], call)
    except BaseException as error:  # SystemExit and KeyboardInterrupt from student code too
        return {"error": _describe(error)}


def read_calls(path):
    """[{field: value}, ...] from CALLS.npz; 0-d string arrays become str."""
    calls = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            index, field = key.split("/", 1)
            value = data[key]
            calls.setdefault(int(index), {})[field] = str(value) if value.dtype.kind == "U" else value
    return [calls[index] for index in sorted(calls)]


def main(calls_path, results_dir, first):
    calls = read_calls(calls_path)
    results_dir = Path(results_dir)
    loaded = {}
    for index in range(int(first), len(calls)):
        result = _run(calls[index], loaded)
        arrays = {name: np.array(value) if _type(value) is str else value for name, value in result.items()}
        partial = results_dir / f".{index}.npz"
        with open(partial, "wb") as file:
            np.savez(file, **arrays)
        os.replace(partial, results_dir / f"{index}.npz")


if __name__ == "__main__":
    main(*sys.argv[1:4])
