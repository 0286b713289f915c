"""Central-difference numerical gradients."""

import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Estimate the gradient of the scalar function ``f()`` with respect to the array ``x``.

    ``f`` takes no argument and reads ``x``, which is perturbed in place one element at a
    time, (f(x + eps) - f(x - eps)) / (2 eps), and restored afterwards.

    :param f: callable returning a float that depends on the current contents of ``x``.
    :param x: float array of any shape, modified in place during the call and restored.
    :returns: array with the shape of ``x``.
    """
    grad = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        f_plus = f()
        x[index] = saved - eps
        f_minus = f()
        x[index] = saved
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad
