"""Typical mistakes, recognised by their output: each case a check runs carries, as data, what every typical wrong
layer outputs on it (its *signature*, computed when the course is released, see ``autograder/mistakes.py``).

A student's wrong output that is close to a signature gets that mistake's cause, as one sentence. Signature
keys in a case dict: ``mistake/<name>``, for the names of :data:`CAUSES`; a case holds only the signatures
that differ from the correct output.
"""

import numpy as np

RTOL, ATOL = 1e-7, 1e-9  # a student's output "is" a mistake's output when this close to it

# name -> likely cause; a name starts with the kind of output it is about (conv_forward, conv_backward,
# pool_forward, pool_backward). Order matters: the first matching signature wins.
CAUSES = {
    "conv_forward_flipped":
        "this output is what a true convolution gives, with the weights flipped in both directions; the layer "
        "computes a cross-correlation, out[n, f, p, q] = sum over a, b of x[n, 0, s p + a, s q + b] * "
        "weights[f, a, b], without flipping the weights.",
    "conv_forward_at_input_index":
        "the output is written at the input index (i, j) of the window; it belongs at the output index "
        "(i // stride, j // stride).",
    "conv_backward_ignoring_stride":
        "the gradient ignores the stride: the window of output (p, q) starts at x[stride * p, stride * q], "
        "not at x[p, q]; loop over the same views as forward.",
    "conv_backward_averaged":
        "the gradient is averaged over the batch (divided by N); it must be summed, since any 1/N of the loss "
        "is already in grad_output.",
    "conv_backward_flipped":
        "the gradient is flipped, as for a true convolution; the layer computes a cross-correlation, so "
        "dW[f] is the sum of grad_output[n, f, p, q] * (the window of output (p, q)), without flipping.",
    "pool_forward_average":
        "this is average pooling: each output must be the maximum of its window (np.max), not the mean.",
    "pool_forward_at_input_index":
        "the output is written at the input index (i, j) of the window; it belongs at the output index "
        "(i // k, j // k).",
    "pool_backward_every_tied_max":
        "the gradient goes to every tied maximum of a window; it must go to the first maximum only "
        "(row-major order, np.argmax of the flattened window).",
    "pool_backward_last_max":
        "the gradient goes to the last maximum of a window; it must go to the first one in row-major order "
        "(np.argmax of the flattened window returns it).",
    "pool_backward_average":
        "this is the gradient of average pooling (grad_output / k^2 everywhere in the window); max pooling "
        "sends the whole gradient to the window's maximum and zero to the other elements.",
}


def diagnose(kind, actual, case):
    """The likely cause of a wrong ``actual`` output as one sentence, or None if no known mistake matches.

    :param kind: "conv_forward", "conv_backward", "pool_forward" or "pool_backward".
    :param actual: the student's output (anything).
    :param case: the case dict, with its ``mistake/<name>`` signatures.
    """
    if not isinstance(actual, np.ndarray) or not np.issubdtype(actual.dtype, np.number):
        return None
    for name, cause in CAUSES.items():
        wrong = case.get(f"mistake/{name}")
        if (name.startswith(kind + "_") and wrong is not None and wrong.shape == actual.shape
                and np.allclose(actual, wrong, rtol=RTOL, atol=ATOL)):
            return cause
    return None
