"""Small real data for the notebooks: handwritten digits and a few hand-made 3x3 filters.

Nothing is downloaded: the digits ship with this package (``digits.npz``, scikit-learn's copy of the UCI optical
digits, checked against it by the tests).
"""

from pathlib import Path

import numpy as np

from cnnkit.ast_lock import AST_LOCK

DIGITS = Path(__file__).with_name("digits.npz")


def load_digits():
    """The 1797 handwritten digits of scikit-learn (UCI optical digits), scaled to [0, 1].

    :returns: (images, labels): images float64 of shape (1797, 8, 8) with values in [0, 1]
              (0 is the background, 1 the darkest ink), labels int of shape (1797,) with values 0..9.
    """
    with AST_LOCK, np.load(DIGITS, allow_pickle=False) as digits:
        images = digits["counts"].astype(np.float64) / 16.0  # the raw pixels are counts 0..16
        return images, digits["labels"].astype(int)


def split_indices(labels, seed=0, shares=(0.6, 0.2, 0.2)):
    """A stratified random split: every split holds (to the nearest image) the same share of each label.

    For each label, its indices are shuffled with ``numpy.random.default_rng(seed)`` and cut into the shares of
    validation and test images (rounded), the rest going to training.

    :param labels: int array of shape (N,).
    :param shares: (training, validation, test), summing to 1.
    :returns: (train_idx, val_idx, test_idx), sorted int arrays that together hold each of 0..N-1 once.
    """
    rng = np.random.default_rng(seed)
    splits = ([], [], [])
    for label in np.unique(labels):
        chosen = rng.permutation(np.flatnonzero(labels == label))
        n_val, n_test = (int(round(share * len(chosen))) for share in shares[1:])
        for split, part in zip(splits, (chosen[n_val + n_test:], chosen[:n_val], chosen[n_val:n_val + n_test])):
            split.append(part)
    return tuple(np.sort(np.concatenate(split)) for split in splits)


def hand_made_filters():
    """Four classic 3x3 filters, each of shape (3, 3), in a fixed order.

    - "vertical edge": Sobel filter, large where the image gets brighter from left to right.
    - "horizontal edge": Sobel filter, large where the image gets brighter from top to bottom.
    - "outline": Laplacian, large on thin strokes and outlines, zero on flat regions.
    - "blur": box blur, the mean of the 3x3 neighbourhood.

    Read as cross-correlation filters (no flip), as in a deep-learning convolution layer.

    :returns: dict name -> (3, 3) float array, a new copy on every call.
    """
    return {
        "vertical edge": np.array([[-1.0, 0.0, 1.0],
                                   [-2.0, 0.0, 2.0],
                                   [-1.0, 0.0, 1.0]]),
        "horizontal edge": np.array([[-1.0, -2.0, -1.0],
                                     [0.0, 0.0, 0.0],
                                     [1.0, 2.0, 1.0]]),
        "outline": np.array([[-1.0, -1.0, -1.0],
                             [-1.0, 8.0, -1.0],
                             [-1.0, -1.0, -1.0]]),
        "blur": np.full((3, 3), 1.0 / 9.0),
    }


def stacked_filters(filters=None):
    """The filters of a dict stacked into the weights of a convolution layer.

    :param filters: dict name -> (k, k) array; default :func:`hand_made_filters`.
    :returns: (F, k, k) array, in the dict's order.
    """
    filters = hand_made_filters() if filters is None else filters
    return np.stack(list(filters.values()))


def worked_examples():
    """Arrays for the teaching figures of notebooks 2 and 4, computed with the course's reference layers when the
    course was built (the student's own layers do not exist yet where they are shown).

    :returns: dict name -> array, a new copy on every call:
        - "digit_feature_maps": (1, 4, 6, 6), the handwritten 1 (``load_digits()[0][1]``) cross-correlated
          with the four :func:`hand_made_filters`, stride 1;
        - "edge_map_pooled": (3, 3), 2 x 2 max pooling of its vertical-edge map ``digit_feature_maps[0, 0]``;
        - "routing_x" (5, 5), "routing_grad_output" (2, 2) and "routing_grad_x" (5, 5): an input with tied
          maxima, an upstream gradient, and where 2 x 2 max pooling's backward pass sends it;
        - "dx_grad_output" (2, 3), "dx_weights" (3, 3) and "dx_grad_x" (4, 5): the input gradient of a 3 x 3 filter
          on a 4 x 5 input (stride 1, no padding) for that upstream gradient;
        - "overlap_x" (5, 5), "overlap_pooled" (2, 2), "overlap_grad_output" (2, 2), "overlap_grad_x" (5, 5) and
          "overlap_shared" (5, 5, bool): 3 x 3 max pooling with stride 2 (overlapping windows), and the elements
          that are the first maximum of more than one window;
        - "im2col_x" (2, 3, 3) and "im2col_columns" (4, 8): two channels and their 2 x 2 windows as rows.
    """
    with np.load(Path(__file__).with_name("worked_examples.npz"), allow_pickle=False) as arrays:
        return {name: arrays[name].copy() for name in arrays.files}
