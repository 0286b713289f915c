"""The arrays behind the teaching figures of notebooks 02 and 04 that need a layer the student has not written yet.

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


DX_GRAD_OUTPUT = np.array([[1.0, -1.0, 2.0],
                           [0.0, 3.0, -2.0]])  # grad_output of a 3x3 filter on a 4x5 input, stride 1, no padding
DX_WEIGHTS = np.array([[1.0, 2.0, 0.0],
                       [0.0, -1.0, 0.0],
                       [0.0, 0.0, 3.0]])  # asymmetric, so that flipping it shows
OVERLAP_X = np.array([[1.0, 0.0, 2.0, 0.0, 1.0],
                      [0.0, 3.0, 0.0, 8.0, 0.0],
                      [2.0, 0.0, 9.0, 0.0, 2.0],
                      [0.0, 5.0, 0.0, 6.0, 0.0],
                      [1.0, 0.0, 7.0, 0.0, 10.0]])  # 3x3 windows, stride 2: the 9 is the maximum of three windows
OVERLAP_GRAD_OUTPUT = np.array([[0.5, -1.0],
                                [2.0, 0.25]])
IM2COL_X = np.arange(18.0).reshape(2, 3, 3)  # two channels, 3x3; 2x2 windows, stride 1


def _im2col(x, k):
    """(C, H, W) -> (H_out W_out, C k k): window (p, q) of every channel, stride 1, as one row."""
    return np.array([x[:, p:p + k, q:q + k].ravel() for p in range(x.shape[1] - k + 1)
                     for q in range(x.shape[2] - k + 1)])


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
        "dx_grad_output": DX_GRAD_OUTPUT,
        "dx_weights": DX_WEIGHTS,
        "dx_grad_x": oracle.conv2d_backward(np.zeros((1, 1, 4, 5)), DX_WEIGHTS[None, None], DX_GRAD_OUTPUT[None, None])
        ["x"][0, 0],
        "overlap_x": OVERLAP_X,
        "overlap_pooled": oracle.maxpool2d_forward(OVERLAP_X[None, None], 3, 2)[0, 0],
        "overlap_grad_output": OVERLAP_GRAD_OUTPUT,
        "overlap_grad_x": oracle.maxpool2d_backward(OVERLAP_X[None, None], OVERLAP_GRAD_OUTPUT[None, None], 3, 2)[0, 0],
        # the elements that are the first maximum of more than one window
        "overlap_shared": oracle.maxpool2d_backward(OVERLAP_X[None, None], np.ones((1, 1, 2, 2)), 3, 2)[0, 0] > 1,
        "im2col_x": IM2COL_X,
        "im2col_columns": _im2col(IM2COL_X, 2),
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
