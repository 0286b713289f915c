"""Figures for notebook 3: the data, the initialisation, training curves and what the trained network does.

As in :mod:`cnnkit.plots`, every function builds a new :class:`matplotlib.figure.Figure`, closes it in
pyplot at once (so a cell ending with the call shows it exactly once) and returns it. Images are drawn
with ink dark on light paper; signed maps use a red (positive) / blue (negative) scale centred on 0.
"""

import numpy as np

from cnnkit.network import require_trained
from cnnkit.plots import INK, new_figure, patches, sns

TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"


def _bare(ax):
    """Image axes: no ticks, no grid, no frame, white background (labels and titles stay possible)."""
    ax.set_facecolor("white")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _digit(ax, image, title=None, vmin=None, vmax=None, fontsize=9, color=INK):
    """Draw one grey-scale image (paper light, ink dark)."""
    ax.imshow(image, cmap="Greys", vmin=vmin, vmax=vmax)
    _bare(ax)
    if title is not None:
        ax.set_title(title, fontsize=fontsize, color=color)


def _signed(ax, values, limit, title=None, fontsize=8):
    """Draw a signed map on a red/blue scale from -limit to +limit."""
    ax.imshow(values, cmap="vlag", vmin=-limit, vmax=limit)
    _bare(ax)
    if title is not None:
        ax.set_title(title, fontsize=fontsize)


def _limit(values):
    return max(float(np.max(np.abs(values))), 1e-12)


def _annotate(ax, values, fmt, fontsize):
    """Write each value of a small 2D array on its cell."""
    for (i, j), value in np.ndenumerate(values):
        ax.text(j, i, format(value, fmt), ha="center", va="center", fontsize=fontsize, color=INK)


def plot_digit_samples(images, labels, per_class=5):
    """The first ``per_class`` images of each class, one column per class.

    :param images: (M, H, W) images in [0, 1]. :param labels: (M,) classes 0..9.
    """
    classes = np.unique(labels)
    fig = new_figure(0.85 * len(classes), 0.85 * per_class + 0.4)
    axes = fig.subplots(per_class, len(classes), squeeze=False)
    for column, digit in enumerate(classes):
        for row, index in enumerate(np.flatnonzero(labels == digit)[:per_class]):
            _digit(axes[row, column], images[index], str(digit) if row == 0 else None, vmin=0, vmax=1, fontsize=11)
    return fig


def plot_preprocessing(image, prepared):
    """One digit as it comes (8 x 8, in [0, 1]) and as the network gets it (padded, centred).

    :param image: (H, W) image in [0, 1]. :param prepared: (H + 2, W + 2) the same image after
        :func:`cnnkit.network.prepare_images`.
    """
    fig = new_figure(7.5, 3.4)
    axes = fig.subplots(1, 2)
    for ax, values, title, low, high in (
            (axes[0], image, f"as loaded: {image.shape[0]}x{image.shape[1]}, values 0 .. 1", 0.0, 1.0),
            (axes[1], prepared, f"network input: {prepared.shape[0]}x{prepared.shape[1]}, values -0.5 .. 0.5",
             -0.5, 0.5)):
        shown = ax.imshow(values, cmap="Greys", vmin=low, vmax=high)
        _bare(ax)
        for spine in ax.spines.values():  # a frame, so that the ring of paper shows
            spine.set(visible=True, color="#888888", linewidth=1)
        ax.set_title(title, fontsize=9)
        fig.colorbar(shown, ax=ax, shrink=0.8)
    pad = (prepared.shape[0] - image.shape[0]) // 2
    axes[1].add_patch(patches.Rectangle((pad - 0.5, pad - 0.5), image.shape[1], image.shape[0], fill=False,
                                edgecolor="#d62728", linestyle="--", linewidth=1.5))
    axes[1].text(prepared.shape[1] / 2 - 0.5, prepared.shape[0] - 0.5 + 0.15, "dashed: the original 8x8 image",
                 ha="center", va="top", fontsize=8, color="#d62728")
    return fig


def plot_initial_feature_maps(image, feature_maps, n_show=8):
    """What freshly initialised filters make of one digit, one row per initialisation.

    :param image: (H, W) the input image.
    :param feature_maps: dict name -> (F, H_out, W_out) conv outputs for this image; each row gets its own
        colour scale, and its title gives the mean correlation between the maps of different filters.
    :param n_show: how many filters to show per row.
    """
    names = list(feature_maps)
    fig = new_figure(1.15 * (n_show + 1) + 0.3, 1.45 * len(names) + 0.3)
    grid = fig.add_gridspec(len(names), n_show + 1)
    _digit(fig.add_subplot(grid[:, 0]), image, "input")
    for row, name in enumerate(names):
        maps = feature_maps[name]
        flat = maps.reshape(len(maps), -1)
        correlation = np.corrcoef(flat)[np.triu_indices(len(maps), k=1)]
        limit = _limit(maps[:n_show])
        for f in range(n_show):
            ax = fig.add_subplot(grid[row, f + 1])
            _signed(ax, maps[f], limit)
            if f == 0:
                ax.set_ylabel(name, fontsize=9)
        fig.add_subplot(grid[row, 1:], frameon=False).set_axis_off()
        fig.axes[-1].set_title(f"{name}: outputs from {maps.min():.1f} to {maps.max():.1f}, mean correlation "
                               f"between filters {np.nanmean(correlation):.2f}", fontsize=9)
    return fig


def plot_learning_curves(model):
    """Loss and accuracy per epoch, training (running mean over the epoch) and validation (after it).

    :param model: a trained :class:`cnnkit.network.DigitCNN`; its ``history`` (one dict per epoch with epoch,
        train_loss, train_accuracy, val_loss, val_accuracy, filled by :func:`cnnkit.network.train`) is drawn.
    :raises LayersNotReadyError: if the model has not been trained.
    """
    require_trained(model)
    history = model.history
    epochs = [h["epoch"] for h in history]
    fig = new_figure(10, 3.6)
    ax_loss, ax_acc = fig.subplots(1, 2)
    for key, label, color in (("train", "training (running mean during the epoch)", TRAIN_COLOR),
                              ("val", "validation (after the epoch)", VAL_COLOR)):
        ax_loss.plot(epochs, [h[f"{key}_loss"] for h in history], "o-", ms=3, color=color, label=label)
        ax_acc.plot(epochs, [100 * h[f"{key}_accuracy"] for h in history], "o-", ms=3, color=color, label=label)
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss", yscale="log")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
    low = max(0.0, min(100 * h["val_accuracy"] for h in history[1:] or history) - 5)
    ax_acc.set_ylim(low, 100.5)
    hidden = [f"epoch {h['epoch']}: {h['train_accuracy']:.0%}" for h in history if 100 * h["train_accuracy"] < low]
    if hidden:  # zoomed in on the interesting range: say which points are below it
        ax_acc.text(0.98, 0.03, "below the chart, training " + ", ".join(hidden), transform=ax_acc.transAxes,
                    ha="right", va="bottom", fontsize=8, color=TRAIN_COLOR)
    ax_loss.legend(fontsize=8, loc="upper right")
    ax_acc.legend(fontsize=8, loc="center right")
    for ax in (ax_loss, ax_acc):
        ax.set_xticks(epochs if len(epochs) <= 20 else epochs[::2])
    return fig


def plot_confusion_matrix(labels, predictions, title="validation split"):
    """Counts of (true class, predicted class); the mistakes (off the diagonal) in red.

    :param labels: (M,) true classes 0..9. :param predictions: (M,) predicted classes.
    """
    n_classes = 10
    counts = np.zeros((n_classes, n_classes), dtype=int)
    np.add.at(counts, (labels, predictions), 1)
    fig = new_figure(5.6, 4.8)
    ax = fig.subplots()
    off_diagonal = np.eye(n_classes, dtype=bool)
    sns.heatmap(counts, mask=off_diagonal, annot=True, fmt="d", cmap="Reds", vmin=0, vmax=max(3, counts[~off_diagonal].max()),
                linewidths=0.5, linecolor="white", cbar_kws={"label": "mistakes"}, ax=ax,
                annot_kws={"fontsize": 8})
    ax.collections[0].colorbar.set_ticks(range(0, max(3, counts[~off_diagonal].max()) + 1))
    for digit in range(n_classes):
        ax.add_patch(patches.Rectangle((digit, digit), 1, 1, facecolor="#e3f1e3", edgecolor="white", linewidth=0.5))
        ax.text(digit + 0.5, digit + 0.5, str(counts[digit, digit]), ha="center", va="center", fontsize=8,
                color="#2c7a2c", fontweight="bold")
    ax.set(xlabel="predicted digit", ylabel="true digit")
    right = int(np.trace(counts))
    ax.set_title(f"{title}: {right} of {len(labels)} right (green diagonal), mistakes in red", fontsize=9)
    ax.tick_params(length=0)
    return fig


def plot_learned_filters(model, hand_made):
    """The filters the network learned, next to the hand-made filters of notebook 1.

    :param model: a trained :class:`cnnkit.network.DigitCNN` (its conv weights, (F, k, k), are drawn).
    :param hand_made: dict name -> (k, k) filter (:func:`cnnkit.data.hand_made_filters`).
    Each filter gets its own colour scale (red positive, blue negative, white 0); the values are written on it.
    :raises LayersNotReadyError: if the model has not been trained.
    """
    require_trained(model)
    learned = model.conv.weights
    n_learned = len(learned)
    per_row = 8
    learned_rows = -(-n_learned // per_row)
    fig = new_figure(1.25 * per_row + 0.4, 1.45 * (learned_rows + 1) + 0.6)
    grid = fig.add_gridspec(learned_rows + 1, per_row)
    for column, (name, values) in enumerate(hand_made.items()):
        ax = fig.add_subplot(grid[0, 2 * column:2 * column + 2])
        _signed(ax, values, _limit(values), f"hand-made: {name}", fontsize=8)
        _annotate(ax, values, ".2g", 7)
    for f, values in enumerate(learned):
        ax = fig.add_subplot(grid[1 + f // per_row, f % per_row])
        _signed(ax, values, _limit(values), f"learned {f}", fontsize=8)
        _annotate(ax, values, ".1f", 6.5)
    fig.suptitle("top: notebook 1's hand-made filters; below: the filters your network learned from the digits",
                 fontsize=9)
    return fig


def plot_layer_outputs(images, conv_maps, pooled_maps, filters, titles=None, n_show=8):
    """Inside the trained network: a few digits, their conv feature maps, and the maps after ReLU and pooling.

    :param images: (M, H, W) the network inputs (padded, centred).
    :param conv_maps: (M, F, H_out, W_out) conv outputs. :param pooled_maps: (M, F, H_out // 2, W_out // 2)
        after ReLU and max pooling.
    :param filters: (F, k, k) the conv weights, drawn in the top row.
    :param titles: optional list of M titles for the images.
    :param n_show: how many filters (the first ones) to show.
    One colour scale per filter column, shared by all digits and by both rows.
    """
    n_images = len(images)
    titles = titles or [f"image {m}" for m in range(n_images)]
    fig = new_figure(1.05 * (n_show + 1) + 0.5, 1.05 * (2 * n_images + 1) + 0.6)
    axes = fig.subplots(2 * n_images + 1, n_show + 1, squeeze=False)
    axes[0, 0].set_axis_off()
    axes[0, 0].text(0.5, 0.5, "filters:", ha="center", va="center", fontsize=9, transform=axes[0, 0].transAxes)
    for f in range(n_show):
        _signed(axes[0, f + 1], filters[f], _limit(filters[f]), f"filter {f}")
        limit = _limit(conv_maps[:, f])
        for m in range(n_images):
            _signed(axes[1 + 2 * m, f + 1], conv_maps[m, f], limit)
            _signed(axes[2 + 2 * m, f + 1], pooled_maps[m, f], limit)
    for m in range(n_images):
        _digit(axes[1 + 2 * m, 0], images[m], titles[m], vmin=-0.5, vmax=0.5)
        axes[1 + 2 * m, 1].set_ylabel(f"conv {conv_maps.shape[2]}x{conv_maps.shape[3]}", fontsize=8)
        axes[2 + 2 * m, 1].set_ylabel(f"ReLU + pool {pooled_maps.shape[2]}x{pooled_maps.shape[3]}", fontsize=8)
        axes[2 + 2 * m, 0].set_axis_off()
    return fig


def plot_misclassified(images, labels, predictions, probabilities, max_count=24, per_row=8):
    """The digits the network got wrong, with the true class, the prediction and its probability.

    :param images: (M, H, W). :param labels: (M,) true classes. :param predictions: (M,) predicted classes.
    :param probabilities: (M, 10) predicted class probabilities.
    """
    wrong = np.flatnonzero(predictions != labels)[:max_count]
    if len(wrong) == 0:
        fig = new_figure(4, 1)
        fig.text(0.5, 0.5, "no mistakes", ha="center", va="center")
        return fig
    rows = -(-len(wrong) // per_row)
    fig = new_figure(1.25 * per_row, 1.55 * rows + 0.4)
    axes = fig.subplots(rows, per_row, squeeze=False)
    for ax in axes.flat[len(wrong):]:
        ax.set_axis_off()
    for ax, index in zip(axes.flat, wrong):
        p = probabilities[index]
        _digit(ax, images[index], f"true {labels[index]} ({p[labels[index]]:.0%})\n"
                                  f"said {predictions[index]} ({p[predictions[index]]:.0%})", fontsize=8)
    fig.suptitle(f"{np.sum(predictions != labels)} of {len(labels)} digits misread"
                 + (f", the first {len(wrong)} shown" if np.sum(predictions != labels) > len(wrong) else "")
                 + ": true class and its probability, prediction and its probability", fontsize=9)
    return fig
