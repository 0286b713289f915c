"""Tests of cnnkit.checks, cnnkit.known_mistakes and autograder.mistakes.

The checks must pass the reference layers (loaded from solutions/), fail the blog post's buggy layers
exactly where they are wrong, recognise each known mistake (a subclass of the reference overriding one
method) and say so, let a stub's NotImplementedError through, and report what, where and why. The
signatures of the known mistakes (autograder.mistakes) must be recognised by cnnkit.known_mistakes.
"""

import numpy as np
import pytest

from autograder import cases, mistakes, oracle
from autograder.samples import original_post
from autograder.release import graded_cells
from autograder.sample_class import CONV, LAYERS, POOL, STACKING
from cnnkit import checks, known_mistakes
from mutations import MUTATIONS, mutated_class, with_mistakes
from reference import REFERENCE_CLASSES, Convolution2dLayer, MaxPooling2dLayer


CONV_CHECKS, POOL_CHECKS, STACKING_CHECKS = ([grade_id for grade_id, _ in graded_cells()[notebook]]
                                             for notebook in (CONV, POOL, STACKING))
ALL_CHECKS = CONV_CHECKS + POOL_CHECKS + STACKING_CHECKS


def run(check, conv_cls=Convolution2dLayer, pool_cls=MaxPooling2dLayer, classes=None):
    """Run the named check on the class of its layer (the first word of its name): ``conv_cls``, ``pool_cls``, or
    ``classes`` ({layer: class}), else the reference."""
    chosen = {**REFERENCE_CLASSES, "conv": conv_cls, "pool": pool_cls, **(classes or {})}
    getattr(checks, check)(chosen[check.split("_")[0]])


def failure(check, conv_cls=Convolution2dLayer, pool_cls=MaxPooling2dLayer, classes=None):
    """The CheckFailed raised by the named check (the test fails if it passes)."""
    with pytest.raises(checks.CheckFailed) as info:
        run(check, conv_cls, pool_cls, classes)
    return info.value


# ---- the reference and the blog post ------------------------------------------------------------------

@pytest.mark.parametrize("check", ALL_CHECKS)
def test_reference_passes_with_one_short_line(check, capsys):
    run(check)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.endswith("cases passed.\n") and len(out) < 80


@pytest.mark.parametrize("check", ["conv_forward_stride1", "conv_backward_stride1", "pool_views", "pool_forward",
                                   "pool_backward"])
def test_original_post_passes_where_it_is_right(check):
    run(check, original_post.Convolution2dLayer, original_post.MaxPooling2dLayer)


@pytest.mark.parametrize("check, phrases, chained", [
    ("conv_views", ["conv views: wrong indices", "stride 2", "(0, 2), expected (0, 1)",
                    "i // stride, not the input index i"], None),
    ("conv_forward_strided", ["forward(x) raised IndexError", "stride 2", "i // stride, not the input index i"],
     IndexError),
    ("conv_backward_strided", ["conv backward: wrong values", "ignores the stride"], None),
    ("conv_batch_of_one", ["backward(cache, grad_output) raised IndexError", "batch 1", ".squeeze() drops"],
     IndexError),
    ("pool_backward_ties", ["pool backward: wrong values", "every tied maximum", "FIRST of them in row-major order",
                            "must add up to grad_output"], None),
])
def test_original_post_fails_with_the_cause(check, phrases, chained):
    error = failure(check, original_post.Convolution2dLayer, original_post.MaxPooling2dLayer)
    for phrase in phrases:
        assert phrase in str(error)
    assert type(error.__cause__) is chained if chained else error.__cause__ is None


# ---- views mistakes (tests/mutations.py), and the registered mistakes ----------------------------------------

VIEWS_MISTAKES = [
    # (mutation, checks it must fail with a phrase of the message, checks it must pass): the views checks name these
    # from what the views yield (the registered mistakes, recognised by their outputs, are tested below)
    ("conv_views_at_input_index", {"conv_views": "i // stride, not the input index i",
                             "conv_forward_strided": "i // stride, not the input index i"},
     ["conv_forward_stride1", "conv_backward_stride1", "conv_batch_of_one"]),
    ("conv_views_true_division", {"conv_views": "integer division"}, []),
    ("conv_views_sliced_at_output_index", {"conv_views": "start at the input index"}, ["conv_forward_stride1"]),
    ("pool_views_at_input_index", {"pool_views": "i // k, not the input index i", "pool_forward": "i // k"}, []),
]


@pytest.mark.parametrize("name, failing, passing", VIEWS_MISTAKES, ids=[name for name, _, _ in VIEWS_MISTAKES])
def test_views_mistake_fails_with_its_diagnosis(name, failing, passing):
    (mutation,) = [mutation for mutation in MUTATIONS if mutation.name == name]
    cls = mutated_class(mutation)
    for check, phrase in failing.items():
        assert phrase in str(failure(check, cls, cls)), check
    for check in passing:
        run(check, cls, cls)


@pytest.mark.parametrize("mistake", mistakes.MISTAKES, ids=[mistake.name for mistake in mistakes.MISTAKES])
def test_each_registered_mistake_fails_exactly_its_checks_and_each_names_its_cause(mistake):
    classes = with_mistakes(mistake.name)
    for check in ALL_CHECKS:
        if LAYERS[check.split("_")[0]][0] != LAYERS[mistake.layer][0]:
            continue  # another notebook's checks
        if check in mistake.fails:
            assert mistake.cause in " ".join(str(failure(check, classes=classes)).split()), check
        else:
            run(check, classes=classes)


def test_consistent_flip_in_forward_and_backward_blames_forward():
    flipped_both = with_mistakes("conv_forward_flipped", "conv_backward_flipped")["conv"]
    message = str(failure("conv_backward_stride1", flipped_both))
    assert "the gradient is flipped" in message and "exact gradient of your own forward" in message


def test_correct_backward_with_wrong_forward_passes_with_a_note_on_forward(capsys):
    run("conv_backward_stride1", with_mistakes("conv_forward_flipped")["conv"])
    printed = capsys.readouterr().out
    assert "matches the expected gradient" in printed and "your forward is probably wrong" in printed


def test_correct_backward_with_stub_forward_passes_with_a_note(capsys):
    class StubForward(Convolution2dLayer):
        def forward(self, x):
            raise NotImplementedError()

    run("conv_backward_strided", StubForward)
    assert "skipped because your forward does not run yet" in capsys.readouterr().out


def test_hidden_mode_never_shows_the_expected_value():
    case = {"x": np.ones((1, 1, 3, 3)), "weights": np.full((1, 2, 2), 0.25), "stride": np.array(1),
            "expected_out": np.full((1, 1, 2, 2), 1.2345)}
    with checks.expected_values_hidden():
        message = str(pytest.raises(checks.CheckFailed, checks.run_case, "conv_forward_stride1", Convolution2dLayer,
                                    case, "hidden case").value)
    assert "1.2345" not in message and "error 0.234" in message and "forward(x)[\"out\"][0, 0, 0, 0] = 1" in message
    assert "(hidden case)" in message
    message = str(pytest.raises(checks.CheckFailed, checks.run_case, "conv_forward_stride1", Convolution2dLayer,
                                case, "visible case").value)
    assert "expected 1.2345" in message  # outside the block, the same failure shows it


# ---- stubs, wrong types and exceptions -------------------------------------------------------------------

class StubMethods:
    """The three methods as a fresh student notebook has them."""

    def _get_filtersizeXfiltersize_views(self, x):
        raise NotImplementedError()
        yield

    def forward(self, x):
        raise NotImplementedError()

    def backward(self, cache, grad_output):
        raise NotImplementedError()


class ConvStub(StubMethods, Convolution2dLayer):
    pass


class PoolStub(StubMethods, MaxPooling2dLayer):
    pass


STUBS = {layer: type(f"{cls.__name__}Stub", (StubMethods, cls), {}) for layer, cls in REFERENCE_CLASSES.items()}


@pytest.mark.parametrize("check", ALL_CHECKS)
def test_stub_propagates_not_implemented_error(check):
    with pytest.raises(NotImplementedError):
        run(check, ConvStub, PoolStub, classes=STUBS)


def test_unimplemented_views_propagate_through_forward():
    class ViewsStub(Convolution2dLayer):
        def _get_filtersizeXfiltersize_views(self, x):
            raise NotImplementedError()
            yield

    with pytest.raises(NotImplementedError):
        run("conv_forward_stride1", ViewsStub)


def test_views_returning_a_list():
    class ListViews(MaxPooling2dLayer):
        def _get_filtersizeXfiltersize_views(self, x):
            return list(super()._get_filtersizeXfiltersize_views(x))

    message = str(failure("pool_views", pool_cls=ListViews))
    assert "wrong type" in message and "returned a list, expected a generator" in message and "yield" in message


def test_views_yielding_too_many_windows():
    class BorderViews(Convolution2dLayer):
        def _get_filtersizeXfiltersize_views(self, x):
            for i in range(0, x.shape[2], self.stride):
                for j in range(0, x.shape[3], self.stride):
                    yield i // self.stride, j // self.stride, x[:, :, i:i + self.filter_size, j:j + self.filter_size]

    message = str(failure("conv_views", BorderViews))
    assert "wrong number of windows" in message and "range(0, H - k + 1, stride)" in message


def test_forward_returning_none():
    class NoReturn(Convolution2dLayer):
        def forward(self, x):
            super().forward(x)

    message = str(failure("conv_forward_stride1", NoReturn))
    assert "wrong type: forward(x) returned None" in message and "return cache" in message


def test_forward_without_x_in_the_cache():
    class NoX(MaxPooling2dLayer):
        def forward(self, x):
            return {"out": super().forward(x)["out"]}

    assert "no key 'x'" in str(failure("pool_forward", pool_cls=NoX))


def test_forward_caching_something_else_than_x():
    class CachesSqueezedX(Convolution2dLayer):
        def forward(self, x):
            return {**super().forward(x), "x": x[:, 0]}

    assert 'wrong shape: forward(x)["x"] has shape (2, 3, 4), expected (2, 1, 3, 4)' in str(
        failure("conv_forward_stride1", CachesSqueezedX))


def test_backward_with_the_wrong_shape():
    class OutputShapedGradient(MaxPooling2dLayer):
        def backward(self, cache, grad_output):
            return grad_output

    message = str(failure("pool_backward", pool_cls=OutputShapedGradient))
    assert "wrong shape: backward(cache, grad_output) has shape (2, 2, 2, 2), expected (2, 2, 4, 5)" in message


def test_backward_returning_none():
    class NoReturn(Convolution2dLayer):
        def backward(self, cache, grad_output):
            super().backward(cache, grad_output)

    message = str(failure("conv_backward_stride1", NoReturn))
    assert "wrong type: backward(cache, grad_output) is None" in message and "return statement" in message


def test_backward_with_an_integer_dtype():
    class IntegerGradient(MaxPooling2dLayer):
        def backward(self, cache, grad_output):
            return super().backward(cache, grad_output).astype(int)

    message = str(failure("pool_backward", pool_cls=IntegerGradient))
    assert "wrong dtype" in message and "int64" in message


def test_squeezed_output_shape_is_diagnosed():
    class SqueezedOutput(Convolution2dLayer):
        def forward(self, x):
            cache = super().forward(x)
            cache["out"] = cache["out"].squeeze()
            return cache

    run("conv_forward_stride1", SqueezedOutput)
    message = str(failure("conv_batch_of_one", SqueezedOutput))
    assert "wrong shape" in message and ".squeeze() drops" in message


def test_exception_from_student_code_is_chained():
    class Broken(MaxPooling2dLayer):
        def forward(self, x):
            raise ValueError("boom")

    error = failure("pool_forward", pool_cls=Broken)
    assert isinstance(error.__cause__, ValueError) and "forward(x) raised ValueError: boom" in str(error)
    assert "Likely cause" not in str(error)  # no size-1 axis in the first case: nothing to suggest


def test_failure_message_locates_the_first_wrong_element():
    class OffByOne(Convolution2dLayer):
        def forward(self, x):
            cache = super().forward(x)
            cache["out"][0, 1, 1, 2] += 1
            return cache

    message = str(failure("conv_forward_stride1", OffByOne))
    assert message.splitlines() == [
        'conv forward: wrong values in forward(x)["out"].',
        "Configuration: stride 1, batch 2, 2 filters, 3x4 input, 2x2 filter (hand-checkable case).",
        'First wrong element: forward(x)["out"][0, 1, 1, 2] = 95, expected 94 (error 1).',
        "1 of 24 elements are wrong (largest error 1).",
    ]


def test_messages_are_short():
    for check, cls in [("conv_forward_strided", original_post.Convolution2dLayer), ("pool_backward", with_mistakes("pool_backward_average")["pool"]),
                       ("pool_backward_ties", with_mistakes("pool_backward_every_tied_max")["pool"])]:
        message = str(failure(check, cls, cls))
        assert len(message.splitlines()) <= 8 and "[[" not in message


def test_checks_leave_the_global_random_state_alone():
    class Deterministic(Convolution2dLayer):
        def initialize_weights(self):
            self.weights = np.zeros((self.n_outchannel, self.filter_size, self.filter_size))

    before = np.random.get_state()[1].copy()
    for check in CONV_CHECKS:
        run(check, Deterministic)
    for check in POOL_CHECKS:
        run(check)
    assert np.array_equal(np.random.get_state()[1], before)


# ---- compare --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("actual, phrase", [
    ([1.0, 2.0], "wrong type: out is a list, expected a numpy array"),
    (np.zeros((2, 3)), "wrong shape: out has shape (2, 3), expected (1, 2, 3)"),
    (np.zeros((1, 2, 3), dtype=int), "wrong dtype: out has dtype int64"),
    (np.array([[[0.0, 0.0, 0.0], [0.0, 2.5, 0.0]]]), "out[0, 1, 1] = 2.5, expected 0 (error 2.5)"),
])
def test_compare_reports_each_aspect(actual, phrase):
    with pytest.raises(checks.CheckFailed) as info:
        checks.compare(actual, np.zeros((1, 2, 3)), "out", "some configuration")
    assert phrase in str(info.value) and "Configuration: some configuration." in str(info.value)


def test_compare_accepts_rounding_and_calls_the_diagnosis_on_values_only():
    expected = np.linspace(-3, 3, 12).reshape(3, 4)
    checks.compare(expected * (1 + 1e-12), expected, "out", "config", diagnosis=lambda a: pytest.fail())
    with pytest.raises(checks.CheckFailed) as info:
        checks.compare(expected + 1, expected, "out", "config", diagnosis=lambda a: "because.")
    assert "12 of 12 elements are wrong" in str(info.value) and "Likely cause: because." in str(info.value)


# ---- known mistakes: signatures (autograder.mistakes), diagnosis (cnnkit.known_mistakes) ----------------

KINDS = mistakes.KINDS


def _kind(name):
    """The kind of output a known mistake is about: its name starts with it."""
    (kind,) = [kind for kind in KINDS if name.startswith(kind + "_")]
    return kind


def _stacking_case(kind, rng):
    """(case, inputs) of notebook 04's kinds: channels, stride 2 and padding 1 for the conv layer; 3x3 windows with
    stride 2 (overlapping) on small integers for pooling."""
    if kind.startswith("conv2d"):
        x, weights, bias = rng.normal(size=(3, 2, 8, 9)), rng.normal(size=(3, 2, 3, 3)), rng.normal(size=3)
        grad_output = rng.normal(size=(3, 3, 4, 5))
        grads = oracle.conv2d_backward(x, weights, grad_output, 2, 1)
        case = {"x": x, "weights": weights, "bias": bias, "stride": np.array(2), "padding": np.array(1),
                "grad_output": grad_output, "expected_out": oracle.conv2d(x, weights, bias, 2, 1),
                **{f"expected_grad_{key}": grads[key] for key in grads}}
        inputs = {"x": x, "weights": weights, "stride": 2, "padding": 1}
        return case, {**inputs, "bias": bias} if kind == "conv2d_forward" else {**inputs, "grad_output": grad_output}
    x, grad_output = rng.integers(0, 4, size=(2, 2, 7, 9)).astype(float), rng.normal(size=(2, 2, 3, 4))
    case = {"x": x, "k": np.array(3), "stride": np.array(2), "grad_output": grad_output,
            "expected_out": oracle.maxpool2d_forward(x, 3, 2), "expected_grad": oracle.maxpool2d_backward(x, grad_output, 3, 2)}
    inputs = {"x": x, "k": 3, "stride": 2}
    return case, inputs if kind == "pool2d_forward" else {**inputs, "grad_output": grad_output}


def _mistake_case(kind):
    """(case, inputs): a case under which every mistake of ``kind`` differs from the correct output (stride 2,
    batch 3, ties), with the expected outputs from the oracle and the signatures of ``kind``'s mistakes; and the
    keyword arguments of ``kind``'s ``*_output`` functions."""
    rng = np.random.default_rng(0)
    if kind.startswith(("conv2d", "pool2d")):
        case, inputs = _stacking_case(kind, rng)
    elif kind.startswith("conv"):
        x, weights = rng.normal(size=(3, 1, 8, 9)), rng.normal(size=(3, 3, 3))
        grad_output = rng.normal(size=(3, 3, 3, 4))
        case = {"x": x, "weights": weights, "stride": np.array(2), "grad_output": grad_output,
                "expected_out": oracle.conv_forward(x, weights, 2),
                "expected_grad": oracle.conv_weight_grad(x, grad_output, 3, 2)}
        inputs = ({"x": x, "weights": weights, "stride": 2} if kind == "conv_forward" else
                  {"x": x, "grad_output": grad_output, "k": 3, "stride": 2})
    else:
        x, grad_output = rng.integers(0, 3, size=(2, 2, 7, 9)).astype(float), rng.normal(size=(2, 2, 3, 4))
        case = {"x": x, "k": np.array(2), "grad_output": grad_output, "expected_out": oracle.maxpool_forward(x, 2),
                "expected_grad": oracle.maxpool_backward(x, grad_output, 2)}
        inputs = {"x": x, "k": 2} if kind == "pool_forward" else {"x": x, "grad_output": grad_output, "k": 2}
    return {**case, **mistakes.signatures(kind, case)}, inputs


@pytest.mark.parametrize("name", list(mistakes.BY_NAME))
def test_diagnose_recognises_each_mistake(name):
    kind = _kind(name)
    case, inputs = _mistake_case(kind)
    wrong, cause = mistakes.BY_NAME[name].output(**inputs), mistakes.BY_NAME[name].cause
    np.testing.assert_array_equal(case[f"mistake/{name}"], wrong)
    assert known_mistakes.diagnose(kind, wrong, case) == cause == case[f"cause/{name}"]
    assert known_mistakes.diagnose(kind, wrong * (1 + 1e-10), case) == cause  # rounding
    for other in KINDS:
        if other != kind:
            assert known_mistakes.diagnose(other, wrong, case) is None, other
    # the diagnosis reads the signature stored in the case; it computes nothing
    without_signatures = {field: value for field, value in case.items() if not field.startswith("mistake/")}
    assert known_mistakes.diagnose(kind, wrong, without_signatures) is None


@pytest.mark.parametrize("kind", KINDS)
def test_diagnose_returns_none_on_correct_noisy_or_misshapen_outputs(kind):
    case, _ = _mistake_case(kind)
    assert {field for field in case if field.startswith("mistake/")} == {
        f"mistake/{mistake.name}" for mistake in mistakes.MISTAKES if mistake.kind == kind}
    correct = case[mistakes.EXPECTED_FIELD[kind]]
    assert known_mistakes.diagnose(kind, correct, case) is None
    assert known_mistakes.diagnose(kind, correct + 1e-3, case) is None
    assert known_mistakes.diagnose(kind, correct[:1], case) is None
    assert known_mistakes.diagnose(kind, None, case) is None


def test_mistakes_equal_to_the_correct_output_carry_no_signature():
    rng = np.random.default_rng(1)
    x, weights = rng.normal(size=(1, 1, 5, 6)), rng.normal(size=(2, 3, 3))
    grad_output = rng.normal(size=(1, 2, 3, 4))
    case = {"x": x, "weights": weights, "stride": np.array(1), "grad_output": grad_output,
            "expected_out": oracle.conv_forward(x, weights, 1),
            "expected_grad": oracle.conv_weight_grad(x, grad_output, 3, 1)}
    # stride 1: ignoring the stride changes nothing; batch 1: averaging changes nothing.
    signatures = mistakes.signatures("conv_backward", case)
    assert set(signatures) == {"mistake/conv_backward_flipped", "cause/conv_backward_flipped"}
    assert known_mistakes.diagnose("conv_backward", case["expected_grad"], {**case, **signatures}) is None
    # a symmetric filter: flipping changes nothing; stride 1: the input index is the output index.
    symmetric = np.ones((2, 3, 3))
    case = {**case, "weights": symmetric, "expected_out": oracle.conv_forward(x, symmetric, 1)}
    assert mistakes.signatures("conv_forward", case) == {}
    assert known_mistakes.diagnose("conv_forward", case["expected_out"], case) is None
    # no tie: every tied maximum and the last maximum are the first maximum.
    x, grad_output = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(2, 3, 2, 2))
    case = {"x": x, "k": np.array(2), "grad_output": grad_output, "expected_out": oracle.maxpool_forward(x, 2),
            "expected_grad": oracle.maxpool_backward(x, grad_output, 2)}
    signatures = mistakes.signatures("pool_backward", case)
    assert set(signatures) == {"mistake/pool_backward_average", "cause/pool_backward_average"}
    assert known_mistakes.diagnose("pool_backward", case["expected_grad"], {**case, **signatures}) is None


def test_conv_mistake_outputs_follow_their_definition():
    rng = np.random.default_rng(3)
    x, weights, grad_output = rng.normal(size=(3, 1, 7, 8)), rng.normal(size=(2, 3, 3)), rng.normal(size=(3, 2, 3, 3))
    flipped_forward = np.zeros((3, 2, 3, 3))
    ignoring_stride = np.zeros((2, 3, 3))
    for n, f, p, q in np.ndindex(grad_output.shape):
        flipped_forward[n, f, p, q] = np.sum(x[n, 0, 2 * p:2 * p + 3, 2 * q:2 * q + 3] * weights[f, ::-1, ::-1])
        ignoring_stride[f] += grad_output[n, f, p, q] * x[n, 0, p:p + 3, q:q + 3]
    np.testing.assert_allclose(mistakes.conv_forward_flipped_output(x, weights, 2), flipped_forward)
    np.testing.assert_allclose(mistakes.conv_backward_ignoring_stride_output(x, grad_output, 3, 2), ignoring_stride)
    correct = oracle.conv_weight_grad(x, grad_output, 3, 2)
    np.testing.assert_allclose(mistakes.conv_backward_averaged_output(x, grad_output, 3, 2), correct / 3)
    np.testing.assert_allclose(mistakes.conv_backward_flipped_output(x, grad_output, 3, 2), correct[:, ::-1, ::-1])


def test_input_index_and_pool_mistake_outputs_follow_their_definition():
    rng = np.random.default_rng(2)
    x, weights = rng.normal(size=(2, 1, 9, 8)), rng.normal(size=(2, 3, 3))
    correct, wrong = oracle.conv_forward(x, weights, 3), mistakes.conv_forward_at_input_index_output(x, weights, 3)
    assert wrong.shape == correct.shape == (2, 2, 3, 2)
    expected = np.zeros(correct.shape)
    expected[:, :, 0, 0] = correct[:, :, 0, 0]  # only the corner (0, 0) is a multiple of 3 inside the 3x2 grid
    np.testing.assert_array_equal(wrong, expected)
    x = np.array([[[[1.0, 3, 3], [3, 0, 0]]]])
    grad_output = np.array([[[[2.0]]]])
    np.testing.assert_array_equal(mistakes.pool_backward_every_tied_max_output(x, grad_output, 2),
                                  [[[[0, 2, 0], [2, 0, 0]]]])
    np.testing.assert_array_equal(mistakes.pool_backward_last_max_output(x, grad_output, 2), [[[[0, 0, 0], [2, 0, 0]]]])
    np.testing.assert_array_equal(mistakes.pool_backward_average_output(x, grad_output, 2),
                                  [[[[0.5, 0.5, 0], [0.5, 0.5, 0]]]])
    np.testing.assert_array_equal(mistakes.pool_forward_average_output(x, 2), [[[[1.75]]]])
    x = np.arange(1.0, 31.0).reshape(1, 1, 5, 6)  # 2x2 maxima at odd rows and columns: 8, 10, 12, 20, 22, 24
    np.testing.assert_array_equal(mistakes.pool_forward_at_input_index_output(x, 2), [[[[8, 0, 10], [0, 0, 0]]]])


# ---- the cases themselves ------------------------------------------------------------------------------

def test_hand_checkable_cases_have_the_documented_values():
    """The values stored in cnnkit/visible_cases.npz and the oracle's on the stored inputs, both."""
    forward = checks.visible_cases("conv_forward_stride1")[0]
    backward = checks.visible_cases("conv_backward_stride1")[0]
    assert forward["label"] == backward["label"] == "hand-checkable case" and int(forward["stride"]) == 1
    x, weights, grad_output = backward["x"], backward["weights"], backward["grad_output"]
    for out in (forward["expected_out"], oracle.conv_forward(forward["x"], forward["weights"], 1)):
        np.testing.assert_array_equal(out[0, 0], [[0, 1, 2], [4, 5, 6]])  # the filter copying the top-left pixel
        np.testing.assert_array_equal(out[0, 1], [[34, 44, 54], [74, 84, 94]])  # [[1, 2], [3, 4]] on 4 r + c
    for grads in (backward["expected_grad"], oracle.conv_weight_grad(x, grad_output, weights.shape[1], 1)):
        np.testing.assert_array_equal(grads[0], [[21, 26], [44, 53]])
    case = checks.visible_cases("conv_forward_strided")[0]
    assert case["label"] == "hand-checkable case" and int(case["stride"]) == 2
    for out in (case["expected_out"], oracle.conv_forward(case["x"], case["weights"], 2)):
        np.testing.assert_array_equal(out[0, 0], [[0, 2, 4], [14, 16, 18]])
    case = checks.visible_cases("pool_forward")[0]
    assert case["label"] == "hand-checkable case" and int(case["k"]) == 2
    np.testing.assert_array_equal(case["x"][0, 0], cases.HAND_POOL_X)
    for out in (case["expected_out"], oracle.maxpool_forward(case["x"], 2)):
        np.testing.assert_array_equal(out[0], [[[17, 19], [14, 18]], [[19, 18], [15, 17]]])
    case = checks.visible_cases("pool_backward_ties")[0]
    assert case["label"].startswith("ties, hand-checkable") and int(case["k"]) == 2
    np.testing.assert_array_equal(case["x"][0, 0], cases.HAND_TIES_K2)
    for grads in (case["expected_grad"][0, 0], oracle.maxpool_backward(case["x"], case["grad_output"], 2)[0, 0]):
        assert {tuple(i) for i in np.argwhere(grads)} == {(0, 0), (0, 3), (0, 4), (2, 1), (2, 2), (2, 4)}
        np.testing.assert_array_equal(grads[grads != 0], [1, 2, 3, 4, 5, 6])


def test_cases_cover_the_required_configurations():
    strided = checks.visible_cases("conv_forward_strided") + checks.visible_cases("conv_backward_strided")
    assert {int(case["stride"]) for case in strided} == {2, 3}
    for case in strided:
        h, w, k, stride = case["x"].shape[2], case["x"].shape[3], case["weights"].shape[1], int(case["stride"])
        assert h != w and ((h - k) % stride or (w - k) % stride)
        assert min(oracle.conv_output_size(h, k, stride), oracle.conv_output_size(w, k, stride)) >= 2
    assert {int(case["stride"]) for case in checks.visible_cases("conv_views")} == {1, 2, 3}
    assert {(len(case["x"]), len(case["weights"])) for case in checks.visible_cases("conv_batch_of_one")} == {
        (1, 3), (2, 1), (1, 1)}
    for case in checks.visible_cases("conv_forward_stride1") + checks.visible_cases("conv_backward_stride1") + strided:
        assert len(case["x"]) > 1 and len(case["weights"]) > 1  # batch-of-one problems: conv_batch_of_one only
    pool = checks.visible_cases("pool_forward")
    assert {int(case["k"]) for case in pool} >= {2, 3} and any(case["x"].shape[3] % int(case["k"]) for case in pool)
    for test in ("pool_views", "pool_forward", "pool_backward"):
        for case in checks.visible_cases(test):
            x, k = case["x"], int(case["k"])
            assert not cases.has_ties(x, k) and not case["ties"], test
            windows = np.sort(oracle.pool_windows(x, k), axis=-1)
            assert np.min(windows[..., -1] - windows[..., -2]) > 1e-5  # far from eps: the numerical gradient is valid
    ties = checks.visible_cases("pool_backward_ties")
    assert all(cases.has_ties(case["x"], int(case["k"])) and case["ties"] for case in ties)
    assert {int(case["k"]) for case in ties} == {2, 3}
