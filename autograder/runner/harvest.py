"""Call the student's layers on given inputs and save what they return; judging is the grader's job.

``python -I -m autograder.runner.harvest RESULTS_DIR FIRST [--cell-timeout S] [--load-timeout S] [--skip ...]``,
run by :mod:`autograder.verdict` inside the sandbox, in a scratch folder holding copies of the student's notebooks,
the calls files and nothing else.

The calls come in phases: ``calls.npz``, then ``calls-1.npz``, ... Each is keyed ``<index>/<field>`` with global
indices, ``calls.npz`` also holds ``count``, the number of calls in all phases. A phase's file appears only once
the grader has read the results of every call before it (a backward call carries the expected output of forward,
which no forward call may find). A call has ``kind`` ("views", "forward", "backward", "positions" or "train"),
``layer`` (a key of :data:`CLASSES`) and the inputs (``x``, ``k``, ``stride``, ``padding``, ``weights``, ``bias``,
``grad_output``, ``cache_out``, ``max_items``, ``epochs``; a "positions" call also ``x_large`` and
``grad_output_large``, a larger input of the same layer). For each call from index FIRST on, this writes
``RESULTS_DIR/<index>.npz``: plain arrays, or strings saying what came back instead of an array (``"type:..."``,
``"dtype:..."``, ``"missing"``), or ``error`` (the exception raised).

The student's classes are defined once per process by running the notebook's code as the student ran it (see
:mod:`cnnkit.notebook_loader`); what went wrong in its cells goes to ``RESULTS_DIR/load-<notebook>-<FIRST>.npz``.
``RESULTS_DIR/progress`` always says what runs: ``load <notebook> <cell> <statement>`` or ``call <index>``, so that
the grader can stop a statement that ignores its time limit and skip it (``--skip notebook:cell:statement``) in
the next process. Nothing here decides anything: the student's code runs in this process and could change any of
it, so the grader compares the saved outputs with the expected ones in its own process.
"""

import argparse
import inspect
import os
import time
from pathlib import Path

import numpy as np

from cnnkit import position_loops
from cnnkit.notebook_loader import NotebookLoadError, classes_in, describe_error, run_code

_ndarray, _dict, _type, _isinstance = np.ndarray, dict, type, isinstance  # taken before any student code runs
_lines_run, _most_grown, _describe_line = (position_loops.lines_run, position_loops.most_grown,
                                           position_loops.describe_line)
NUMERIC_KINDS = "biuf"
PROGRESS_BYTES = 160  # the progress record, rewritten in place
# The notebooks and classes of cnnkit.network, spelled out: importing it (and SciPy through it) would cost a
# second and a half per process, and only the training call needs it.
STACKING = "04_layers_that_stack.ipynb"
CLASSES = {"conv": ("01_convolution.ipynb", "Convolution2dLayer"), "pool": ("02_max_pooling.ipynb", "MaxPooling2dLayer"),
           "conv2d": (STACKING, "Conv2dLayer"), "pool2d": (STACKING, "MaxPool2dLayer"),
           "fastconv2d": (STACKING, "FastConv2dLayer")}
GRADIENTS = ("x", "weights", "bias")  # the keys of the dict that notebook 04's conv layers return from backward


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
    if call["layer"] == "pool2d":
        return cls(filter_size=k, stride=int(call["stride"]))
    if call["layer"] in ("conv2d", "fastconv2d"):
        n_filters, n_channels = call["weights"].shape[:2]
        layer = cls(n_inchannel=n_channels, n_outchannel=n_filters, filter_size=k, stride=int(call["stride"]),
                    padding=int(call["padding"]))
        layer.weights, layer.bias = call["weights"].copy(), call["bias"].copy()
        return layer
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
    grads = _layer(cls, call).backward(cache, call["grad_output"].copy())
    if call["layer"] not in ("conv2d", "fastconv2d"):
        return {"grads": _array(grads)}
    if not _isinstance(grads, _dict):
        return {"grads": f"type:{_type(grads).__name__}"}
    return {f"grads/{key}": _array(grads[key]) if key in grads else "missing" for key in GRADIENTS}


def _positions(cls, call):
    """The lines of the student's code that forward and backward run at two input sizes (see
    :mod:`cnnkit.position_loops`): their totals, and the line whose count grew most with its two counts."""
    counts = [_lines_run(_layer(cls, call), call[x].copy(), call[grad].copy())
              for x, grad in (("x", "grad_output"), ("x_large", "grad_output_large"))]
    result = {"lines": np.array([sum(count.values()) for count in counts])}
    grown = _most_grown(*counts)
    if grown:
        result.update(line=np.array(_describe_line(*grown[:2])), line_counts=np.array(grown[2:]))
    return result


def _train(classes, call):
    from cnnkit import network

    model, x_test, _ = network.train_digit_cnn(classes["conv"], classes["pool"], epochs=int(call["epochs"]))
    return {"predictions": _array(model.predict(x_test))}


def _load(layers, loaded, options):
    """{layer: class or NotebookLoadError} for these layers, running each notebook's code once: ``loaded`` keeps the
    classes by layer and each notebook's (namespace, problems) by file name."""
    for layer in layers:
        if layer not in loaded:
            notebook, name = CLASSES[layer]
            if notebook not in loaded:
                skip = {(int(cell), int(index)) for entry in options.skip for file, cell, index in [entry.split(":")]
                        if file == notebook}
                try:
                    loaded[notebook] = run_code(notebook, options.cell_timeout, options.load_timeout, skip,
                                                before=lambda s: _mark(options, f"load {notebook} {s.cell} {s.index}"))
                except NotebookLoadError as error:
                    loaded[notebook] = {}, [str(error)]
                save_arrays(options.results / f"load-{notebook}-{options.first}.npz",
                            {"problems": np.array(loaded[notebook][1], dtype=str)})
            namespace, problems = loaded[notebook]
            try:
                loaded[layer] = classes_in(namespace, [name], problems, notebook)[name]
            except NotebookLoadError as error:
                loaded[layer] = error
    return {layer: loaded[layer] for layer in layers}


def run_call(call, classes):
    """What ``call`` (a dict, as in a calls file) returns with these classes ({"conv": class, "pool": class}), as
    saved in its results file."""
    for layer, cls in classes.items():
        if _isinstance(cls, Exception):
            return {"error": f"{CLASSES[layer][1]} could not be loaded: {cls}"}
    try:
        if call["kind"] == "train":
            return _train(classes, call)
        run = {"views": _views, "forward": _forward, "backward": _backward, "positions": _positions}[str(call["kind"])]
        return run(classes[str(call["layer"])], call)
    except BaseException as error:  # SystemExit and KeyboardInterrupt from student code too
        return {"error": describe_error(error, limit=500)}


def phase_file(phase):
    """The name of a phase's calls file."""
    return "calls.npz" if phase == 0 else f"calls-{phase}.npz"


def read_calls(path):
    """({index: {field: value}}, count) from a calls file (count None if it does not say); 0-d string arrays
    become str."""
    calls, count = {}, None
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            value = data[key]
            if key == "count":
                count = int(value)
                continue
            index, field = key.split("/", 1)
            calls.setdefault(int(index), {})[field] = str(value) if value.dtype.kind == "U" else value
    return calls, count


def _next_phase(phase):
    """The calls of ``phase``, once its file is there (the grader writes it in one step)."""
    while not os.path.exists(phase_file(phase)):
        time.sleep(0.01)
    return read_calls(phase_file(phase))


def save_arrays(path, arrays):
    """Write ``arrays`` to the .npz file ``path`` in one step (a reader never sees half a file)."""
    partial = path.parent / f".{path.name}"
    with open(partial, "wb") as file:
        np.savez(file, **arrays)
    os.replace(partial, path)


def _mark(options, text):
    os.pwrite(options.progress, text.encode().ljust(PROGRESS_BYTES), 0)


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("results", type=Path)
    parser.add_argument("first", type=int)
    parser.add_argument("--cell-timeout", type=float, default=None)
    parser.add_argument("--load-timeout", type=float, default=None)
    parser.add_argument("--skip", nargs="*", default=[], help="notebook:cell:statement of statements not to run")
    options = parser.parse_args(argv)
    os.environ.setdefault("MPLBACKEND", "Agg")  # a figure the student's code shows goes nowhere
    options.progress = os.open(options.results / "progress", os.O_WRONLY | os.O_CREAT, 0o600)
    calls, count = read_calls(phase_file(0))
    loaded, phase = {}, 0
    for index in range(options.first, count):
        while index not in calls:
            phase += 1
            calls.update(_next_phase(phase)[0])
        call = calls[index]
        classes = _load(["conv", "pool"] if call["kind"] == "train" else [str(call["layer"])], loaded, options)
        _mark(options, f"call {index}")
        result = run_call(call, classes)
        save_arrays(options.results / f"{index}.npz",
              {name: np.array(value) if _type(value) is str else value for name, value in result.items()})


if __name__ == "__main__":
    main()
