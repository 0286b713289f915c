"""Wrong layers a student could plausibly write: the registered typical mistakes (autograder/mistakes.py), and more.

A mutation is the reference class of one layer with solution regions replaced (by the names of
``autograder.mistakes.REGIONS``) and, for a change outside the regions, lines of the class replaced.
:func:`mutated_class` builds it.
"""

from dataclasses import dataclass, field

import numpy as np

from autograder import mistakes
from autograder.sample_class import LAYERS, filled_in, reference_sources
from reference import REFERENCE_CLASSES

CONV, POOL, FAST = "conv", "pool", "fastconv2d"  # the layers of notebooks 01 and 02, and 04's vectorised one

CONV_BACKWARD = "g = grad_output[:, :, out_row, out_col]\n"  # the first line of conv backward's solution


@dataclass(frozen=True)
class Mutation:
    name: str
    layer: str  # a key of autograder.sample_class.LAYERS
    code: dict = field(default_factory=dict)  # {region name: the region's new body}
    replace: tuple = ()  # (old line, new line) pairs, outside the regions
    kind: str = ""  # the structural kind it is meant to show ("" when it fits no kind, or is a registered mistake)

    @property
    def notebook(self):
        return LAYERS[self.layer][0]


def _window_sum(expression="view * self.weights"):
    return f'cache["out"][:, :, out_row, out_col] = np.sum({expression}, axis=(2, 3))'


REGISTERED = [Mutation(m.name, m.layer, m.code) for m in mistakes.MISTAKES]
VIEWS = [
    Mutation("conv_views_at_input_index", CONV, {"views": "out_row, out_col = i, j\nview = x[:, :, i:i + k, j:j + k]"}),
    Mutation("conv_views_true_division", CONV, {"views": "out_row, out_col = i / s, j / s\nview = x[:, :, i:i + k, j:j + k]"}),
    Mutation("conv_views_sliced_at_output_index", CONV,
             {"views": "out_row, out_col = i // s, j // s\nview = x[:, :, out_row:out_row + k, out_col:out_col + k]"}),
    Mutation("conv_views_stop_one_window_early", CONV,
             replace=(("for i in range(0, n_rows - k + 1, s):", "for i in range(0, n_rows - k, s):"),),
             kind="border"),
    Mutation("pool_views_at_input_index", POOL, {"views": "out_row, out_col = i, j\nview = x[:, :, i:i + k, j:j + k]"}),
]
STRUCTURAL = [
    Mutation("conv_output_size_rounded_up", CONV, replace=(
        ("(h - k) // s + 1, (w - k) // s + 1", "-(-(h - k) // s) + 1, -(-(w - k) // s) + 1"),), kind="shape"),
    Mutation("pool_forward_by_reshape", POOL, {"forward": "pass"}, replace=(
        ('cache = {"x": x, "out": np.zeros((n, c, h // k, w // k))}',
         'cache = {"x": x, "out": x.reshape(n, c, h // k, k, w // k, k).max(axis=(3, 5))}'),), kind="shape"),
    Mutation("conv_backward_times_stride", CONV,
             {"backward": CONV_BACKWARD + "grads += self.stride * np.sum(g[:, :, None, None] * view, axis=0)"},
             kind="factor"),
    Mutation("conv_backward_negated", CONV, {"backward": CONV_BACKWARD + "grads -= np.sum(g[:, :, None, None] * view, axis=0)"},
             kind="factor"),
    Mutation("pool_backward_divided_by_k2", POOL, {"backward": """
first_max = np.argmax(view.reshape(n, c, k * k), axis=2)
row, col = np.unravel_index(first_max, (k, k))
grads[batch, channel, out_row * k + row, out_col * k + col] = grad_output[:, :, out_row, out_col] / k**2
"""}, kind="factor"),
    Mutation("conv_forward_plus_one", CONV, {"forward": _window_sum() + " + 1"}, kind="offset"),
    Mutation("conv_backward_transposed", CONV,
             {"backward": CONV_BACKWARD + "grads += np.swapaxes(np.sum(g[:, :, None, None] * view, axis=0), 1, 2)"},
             kind="axes"),
    Mutation("conv_backward_rows_flipped", CONV,
             {"backward": CONV_BACKWARD + "grads[:, ::-1, :] += np.sum(g[:, :, None, None] * view, axis=0)"},
             kind="axes"),
    Mutation("conv_forward_first_image_only", CONV,
             {"forward": 'cache["out"][0, :, out_row, out_col] = np.sum(view[0] * self.weights, axis=(1, 2))'},
             kind="some images, filters or channels"),
    Mutation("conv_forward_first_filter_only", CONV, {"forward": _window_sum("view * self.weights[:1]")},
             kind="some images, filters or channels"),
    Mutation("pool_forward_channel_0_only", POOL,
             {"forward": 'cache["out"][:, :, out_row, out_col] = np.max(view[:, :1], axis=(2, 3))'},
             kind="some images, filters or channels"),
    Mutation("pool_backward_argmax_of_channel_0", POOL, {"backward": """
first_max = np.argmax(view[:, :1].reshape(n, 1, k * k), axis=2)  # (N, 1): channel 0's, for every channel
row, col = np.unravel_index(first_max, (k, k))
grads[batch, channel, out_row * k + row, out_col * k + col] = grad_output[:, :, out_row, out_col]
"""}, kind="some images, filters or channels"),
    Mutation("conv_forward_shifted_one_row", CONV, {"forward": _window_sum().replace("out_row, out_col]",
                                                                                    "out_row - 1, out_col]")},
             kind="shifted"),
    Mutation("conv_forward_not_stored", CONV, {"forward": "np.sum(view * self.weights, axis=(2, 3))"}, kind="zeros"),
    Mutation("pool_backward_returns_its_input", POOL, replace=(("return grads", "return x"),), kind="the input"),
    Mutation("pool_backward_from_np_full_nan", POOL,
             replace=(("grads = np.zeros(x.shape)", "grads = np.full(x.shape, np.nan)"),), kind="NaN"),
]
UNCLASSIFIED = [
    Mutation("pool_forward_minimum", POOL, {"forward": 'cache["out"][:, :, out_row, out_col] = np.min(view, axis=(2, 3))'}),
    Mutation("conv_forward_squared_products", CONV, {"forward": _window_sum("(view * self.weights) ** 2")}),
    Mutation("pool_backward_at_output_index", POOL, {"backward": """
first_max = np.argmax(view.reshape(n, c, k * k), axis=2)
row, col = np.unravel_index(first_max, (k, k))
grads[batch, channel, out_row + row, out_col + col] = grad_output[:, :, out_row, out_col]
"""}),
]
LOOPS = [  # FastConv2dLayers with the right numbers and a Python loop over the output positions or their rows
    Mutation("fastconv2d_forward_of_the_loop_layer", FAST, {"forward": 'out = Conv2dLayer.forward(self, x)["out"]'},
             kind="loop over positions"),
    Mutation("fastconv2d_im2col_loop_over_positions", FAST, {"columns": """
n, c, h_padded, w_padded = x_padded.shape
h_out, w_out = (h_padded - k) // s + 1, (w_padded - k) // s + 1
columns = np.array([x_padded[i, :, row * s:row * s + k, col * s:col * s + k].ravel()
                    for i in range(n) for row in range(h_out) for col in range(w_out)])
"""}, kind="loop over positions"),
    Mutation("fastconv2d_col2im_loop_over_rows", FAST, {"backward": """
grad_weights = (g.T @ columns).reshape(self.weights.shape)
grad_bias = g.sum(axis=0)
grad_columns = (g @ self.weights.reshape(self.n_outchannel, -1)).reshape(n, h_out, w_out, c, k, k)
grad_x_padded = np.zeros((n, c, h + 2 * p, w + 2 * p))
for row in range(h_out):
    for a, b in np.ndindex(k, k):
        grad_x_padded[:, :, row * s + a, b:b + s * w_out:s] += grad_columns[:, row, :, :, a, b].transpose(0, 2, 1)
grad_x = grad_x_padded[:, :, p:p + h, p:p + w]
"""}, kind="loop over positions"),
]
MUTATIONS = REGISTERED + VIEWS + STRUCTURAL + UNCLASSIFIED + LOOPS


def mutated_class(mutation):
    """The class of ``mutation``'s layer with the mutation in it (a subclass of another layer's class, such as
    FastConv2dLayer, gets the reference of that class as its base)."""
    regions = {mistakes.REGIONS[mutation.layer][region]: body for region, body in mutation.code.items()}
    source = filled_in(reference_sources()[mutation.layer], regions)
    for old, new in mutation.replace:
        assert source.count(old) == 1, (mutation.name, old)
        source = source.replace(old, new)
    namespace = {"np": np, "sliding_window_view": np.lib.stride_tricks.sliding_window_view,
                 **{cls.__name__: cls for cls in REFERENCE_CLASSES.values()}}
    exec(source, namespace)
    return namespace[LAYERS[mutation.layer][1]]


def with_mistakes(*names):
    """{layer: class}: the reference classes with the code of these registered mistakes in them."""
    classes = dict(REFERENCE_CLASSES)
    for layer in classes:
        code = {region: body for name in names for mistake in [mistakes.BY_NAME[name]] if mistake.layer == layer
                for region, body in mistake.code.items()}
        if code:
            classes[layer] = mutated_class(Mutation("+".join(names), layer, code))
    return classes
