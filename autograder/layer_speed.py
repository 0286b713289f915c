"""How fast is a convolution layer? One forward plus backward pass of the same layer, timed four ways.

Instructor side (notebook 04's speed table): a loop layer (``Conv2dLayer``, one matrix product per output position),
a vectorised layer (``FastConv2dLayer``, im2col), SciPy's FFT convolution on whole arrays, and PyTorch on the CPU.
Every contender computes the same thing, in float64: the output of a cross-correlation with bias, stride and zero
padding, then dL/dx, dL/dweights and dL/dbias for the upstream gradient ``grad_output``.

Shapes (the default sizes in brackets): x (N, C, H, W) [64, 16, 28, 28], weights (F, C, k, k) [32, 16, 3, 3],
bias (F,), output and grad_output (N, F, H_out, W_out) with H_out = (H + 2 padding - k) // stride + 1 [stride 1,
padding 1: 28 x 28].

Usage: ``python -m autograder.layer_speed`` prints the table for the classes of :func:`reference_classes`.
"""

import statistics
import time

import numpy as np
from scipy import signal

from autograder.release import SOLUTIONS
from autograder.runner.harvest import STACKING
from cnnkit.notebook_loader import load_classes

try:
    import torch
except ImportError:  # PyTorch is optional: its row is then None
    torch = None
# PyTorch's default number of intra-op threads (normally the machine's physical cores), read when this module is
# imported; time_layers sets it explicitly, so that the table always says what PyTorch ran with.
TORCH_THREADS = torch.get_num_threads() if torch is not None else None


LOOP, VECTORISED, SCIPY, TORCH = "loop layer", "vectorised layer", "SciPy", "PyTorch CPU"
LABELS = (LOOP, VECTORISED, SCIPY, TORCH)


def reference_classes():
    """The (Conv2dLayer, FastConv2dLayer) classes that :func:`main` times: notebook 04's reference layers, defined by
    running the code of solutions/04_layers_that_stack.ipynb."""
    classes = load_classes(SOLUTIONS / STACKING, "Conv2dLayer", "FastConv2dLayer")
    return classes["Conv2dLayer"], classes["FastConv2dLayer"]


# ---- SciPy ---------------------------------------------------------------------------------------------------
# scipy.signal.correlate and convolve have no ``axes`` argument: on whole 4D arrays they would also convolve
# across the batch and channel axes. Their FFT method is scipy.signal.fftconvolve, which takes ``axes``, so the
# other axes broadcast: one call per result (output, dx, dweights) on 5D arrays (N, F, C, rows, columns), then a
# sum over the axis that the layer sums over. A cross-correlation is the convolution with the flipped filter.
# Measured once (default sizes but N = 16, a shared 2-core machine), this beats one scipy.signal.correlate call
# per filter or per channel on 4D arrays (whose "valid" mode sums over the matched axis): 2.4 s against 3.4 s with
# its FFT method, 7.9 s with the direct one.

def _pad(x, padding):
    return np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))


def _spread(grad_output, stride):
    """(N, F, H_out, W_out) -> (N, F, (H_out - 1) stride + 1, (W_out - 1) stride + 1): values stride apart, zeros
    in between (the stride-1 layout of the gradient)."""
    if stride == 1:
        return grad_output
    n, f, h_out, w_out = grad_output.shape
    spread = np.zeros((n, f, (h_out - 1) * stride + 1, (w_out - 1) * stride + 1))
    spread[:, :, ::stride, ::stride] = grad_output
    return spread


def scipy_conv2d_forward(x, weights, bias, stride=1, padding=0):
    """The layer's output with one ``scipy.signal.fftconvolve`` call.

    :param x: (N, C, H, W) input.
    :param weights: (F, C, k, k) filters.
    :param bias: (F,).
    :returns: (N, F, H_out, W_out), H_out = (H + 2 padding - k) // stride + 1.
    """
    flipped = weights[None, :, :, ::-1, ::-1]                                        # (1, F, C, k, k)
    per_channel = signal.fftconvolve(_pad(x, padding)[:, None], flipped, mode="valid", axes=(-2, -1))
    return per_channel.sum(axis=2)[:, :, ::stride, ::stride] + bias[None, :, None, None]  # (N, F, C, ., .) -> out


def scipy_conv2d_backward(x, weights, grad_output, stride=1, padding=0):
    """The gradients of :func:`scipy_conv2d_forward`, summed over the batch: two ``scipy.signal.fftconvolve`` calls.

    dW is the correlation of the padded input with the (spread) upstream gradient, dx the full convolution of the
    upstream gradient with the filters, cropped by the padding.

    :param x: (N, C, H, W) input.
    :param weights: (F, C, k, k) filters.
    :param grad_output: (N, F, H_out, W_out) upstream gradient dL/dout.
    :returns: {"x": (N, C, H, W), "weights": (F, C, k, k), "bias": (F,)}.
    """
    n, c, h, w = x.shape
    k = weights.shape[-1]
    padded = _pad(x, padding)
    spread = _spread(grad_output, stride)                                              # (N, F, Hs, Ws)
    d_weights = signal.fftconvolve(padded[:, None], spread[:, :, None, ::-1, ::-1], mode="valid",
                                   axes=(-2, -1))[..., :k, :k].sum(axis=0)             # (N, F, C, k, k) -> (F, C, k, k)
    rows, cols = spread.shape[2] + k - 1, spread.shape[3] + k - 1                     # what some window covers
    d_padded = np.zeros(padded.shape)
    d_padded[:, :, :rows, :cols] = signal.fftconvolve(spread[:, :, None], weights[None], mode="full",
                                                      axes=(-2, -1)).sum(axis=1)       # (N, F, C, ., .) -> (N, C, ., .)
    return {"x": d_padded[:, :, padding:padding + h, padding:padding + w], "weights": d_weights,
            "bias": grad_output.sum(axis=(0, 2, 3))}


# ---- PyTorch -------------------------------------------------------------------------------------------------

def torch_conv2d(x, weights, bias, grad_output, stride=1, padding=0):
    """Output and gradients with ``torch.nn.functional.conv2d`` and autograd, in float64 on the CPU.

    The loss is sum(out * grad_output), so that the gradients are those for the upstream gradient grad_output.
    Shapes as :func:`scipy_conv2d_forward` and :func:`scipy_conv2d_backward`.

    :returns: (out (N, F, H_out, W_out), {"x": (N, C, H, W), "weights": (F, C, k, k), "bias": (F,)}), NumPy arrays.
    """
    tensors = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in (x, weights, bias)]
    out = _torch_pass(*tensors, torch.from_numpy(np.asarray(grad_output, dtype=np.float64)), stride, padding)
    return out.detach().numpy(), {key: t.grad.numpy() for key, t in zip(("x", "weights", "bias"), tensors)}


def _torch_pass(x, weights, bias, grad_output, stride, padding):
    out = torch.nn.functional.conv2d(x, weights, bias, stride=stride, padding=padding)
    (out * grad_output).sum().backward()
    return out


# ---- timing --------------------------------------------------------------------------------------------------

def _median_seconds(run, repeats, warm_up):
    """Median over ``repeats`` calls of ``run()`` (time.perf_counter), after one untimed call if ``warm_up``."""
    if warm_up:
        run()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _layer_pass(cls, x, weights, bias, grad_output, padding):
    layer = cls(x.shape[1], weights.shape[0], filter_size=weights.shape[-1], stride=1, padding=padding)
    layer.weights, layer.bias = weights.copy(), bias.copy()
    return lambda: layer.backward(layer.forward(x), grad_output)


def time_layers(conv_cls, fast_cls, repeats=5, seed=0, slow_repeats=2, n=64, c=16, f=32, size=28, k=3, padding=1):
    """Seconds per forward + backward pass of one conv layer (stride 1), four ways, on the same random arrays.

    The vectorised layer and PyTorch get one untimed warm-up call and ``repeats`` timed calls; the loop layer and
    SciPy, which take up to seconds, get ``slow_repeats`` timed calls and no warm-up. PyTorch runs with its default
    number of threads (:data:`TORCH_THREADS`, normally the physical cores), set explicitly; NumPy's matrix products
    use their BLAS's default threads, SciPy's FFTs one thread.

    :param conv_cls: the loop layer class, built as ``conv_cls(C, F, filter_size=k, stride=1, padding=padding)``
        with ``weights`` (F, C, k, k), ``bias`` (F,), ``forward(x)`` -> cache, ``backward(cache, grad_output)``.
    :param fast_cls: the vectorised layer class, the same API.
    :param seed: seed of the random x (N, C, size, size), weights (F, C, k, k), bias (F,) and grad_output.
    :param n, c, f, size, k, padding: N, C, F, H = W, k and the padding (defaults: notebook 04's table).
    :returns: dict label -> median seconds, for the labels of :data:`LABELS`; PyTorch's is None when it cannot
        be imported.
    """
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, c, size, size))
    weights = rng.normal(0.0, np.sqrt(2.0 / (c * k * k)), size=(f, c, k, k))
    bias = rng.normal(size=f)
    out_size = size + 2 * padding - k + 1
    grad_output = rng.normal(size=(n, f, out_size, out_size))
    seconds = {
        LOOP: _median_seconds(_layer_pass(conv_cls, x, weights, bias, grad_output, padding), slow_repeats, False),
        VECTORISED: _median_seconds(_layer_pass(fast_cls, x, weights, bias, grad_output, padding), repeats, True),
        SCIPY: _median_seconds(lambda: (scipy_conv2d_forward(x, weights, bias, 1, padding),
                                        scipy_conv2d_backward(x, weights, grad_output, 1, padding)),
                               slow_repeats, False),
        TORCH: None,
    }
    if torch is not None:
        torch.set_num_threads(TORCH_THREADS)
        tensors = [torch.tensor(a, requires_grad=True) for a in (x, weights, bias)]
        grad_t = torch.from_numpy(grad_output)

        def torch_run():
            for t in tensors:
                t.grad = None
            _torch_pass(*tensors, grad_t, 1, padding)

        seconds[TORCH] = _median_seconds(torch_run, repeats, True)
    return seconds


def format_table(seconds):
    """A small text table: one row per label of ``seconds`` (from :func:`time_layers`), its milliseconds per
    forward + backward pass and its time relative to the vectorised layer ("n/a" where a time is None)."""
    reference = seconds.get(VECTORISED)
    lines = [f"{'implementation':<18}{'ms per pass':>12}{'vs vectorised':>15}"]
    for label, value in seconds.items():
        if value is None:
            lines.append(f"{label:<18}{'n/a':>12}{'n/a':>15}")
            continue
        ratio = f"{value / reference:.2f}x" if reference else "n/a"
        lines.append(f"{label:<18}{value * 1e3:>12.1f}{ratio:>15}")
    return "\n".join(lines)


def main():
    conv_cls, fast_cls = reference_classes()
    threads = f"PyTorch with {TORCH_THREADS} threads (its default)" if torch is not None else "PyTorch not installed"
    print(f"One conv layer, forward + backward, float64: x (64, 16, 28, 28), weights (32, 16, 3, 3), stride 1, "
          f"padding 1; median time per pass; {threads}.")
    print(format_table(time_layers(conv_cls, fast_cls)))


if __name__ == "__main__":
    main()
