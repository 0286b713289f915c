"""The arrays behind the teaching figures of notebook 02 that need a layer the student has not written yet.

``make release`` writes them to ``cnnkit/worked_examples.npz`` (read by :func:`cnnkit.data.worked_examples`), so
the hand-out ships results, not the code that computes them.
"""

from pathlib import Path

import numpy as np

import cnnkit.data
from autograder import oracle

WORKED_EXAMPLES = Path(cnnkit.data.__file__).with_name("worked_examples.npz")

ROUTING_X = np.array([[1.0, 3.0, 2.0, 0.0, 5.0],
                      [4.0, 2.0, 2.0, 2.0, 1.0],
                      [0.0, 1.0, 7.0, 1.0, 2.0],
                      [6.0, 0.0, 3.0, 7.0, 3.0],
                      [2.0, 8.0, 1.0, 0.0, 4.0]])  # windows with three 2s and with two 7s: ties, first maximum wins
ROUTING_GRAD_OUTPUT = np.array([[0.5, -1.0],
                                [2.0, 0.25]])


def arrays():
    """{name: array}, the names and shapes :func:`cnnkit.data.worked_examples` documents."""
    images, _ = cnnkit.data.load_digits()
    feature_maps = oracle.conv_forward(images[1][None, None], cnnkit.data.stacked_filters(), stride=1)
    return {
        "digit_feature_maps": feature_maps,
        "edge_map_pooled": oracle.maxpool_forward(feature_maps[:, :1], 2)[0, 0],
        "routing_x": ROUTING_X,
        "routing_grad_output": ROUTING_GRAD_OUTPUT,
        "routing_grad_x": oracle.maxpool_backward(ROUTING_X[None, None], ROUTING_GRAD_OUTPUT[None, None], 2)[0, 0],
    }


def write(path=WORKED_EXAMPLES):
    """Write the arrays to ``path`` unless it already holds them; returns whether it wrote."""
    fresh = arrays()
    if Path(path).is_file():
        with np.load(path, allow_pickle=False) as old:
            if sorted(old.files) == sorted(fresh) and all(old[k].dtype == v.dtype and np.array_equal(old[k], v)
                                                               for k, v in fresh.items()):
                return False
    with open(path, "wb") as file:
        np.savez(file, **fresh)
    return True
