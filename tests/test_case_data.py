"""The case data that ships as files: cnnkit/visible_cases.npz, autograder/runner/kernel_cases.npz and
cnnkit/worked_examples.npz are what autograder.cases and autograder.worked_examples make now, their
expected outputs and mistake signatures are the oracle's, and every case carries the signatures and the
ties flag that the checks need to explain a failure."""

import functools

import numpy as np
import pytest

import cnnkit.data
from autograder import cases, mistakes, oracle, worked_examples
from autograder.runner import hidden_tests
from cnnkit import casefile, checks

KINDS = mistakes.KINDS
TEST_KINDS = {  # graded test -> the kinds of output whose mistakes its checks can diagnose
    "conv_views": [], "conv_forward_stride1": ["conv_forward"], "conv_forward_strided": ["conv_forward"],
    "conv_backward_stride1": ["conv_backward"], "conv_backward_strided": ["conv_backward"],
    "conv_batch_of_one": ["conv_forward", "conv_backward"],
    "pool_views": [], "pool_forward": ["pool_forward"], "pool_backward": ["pool_backward"],
    "pool_backward_ties": ["pool_backward"],
    **{test: cases.SIGNATURE_KINDS[test] for test in ["conv2d_forward", "conv2d_forward_padding_stride",
                                                     "conv2d_backward_params", "conv2d_backward_input",
                                                     "conv2d_batch_of_one", "fastconv2d", "pool2d_forward",
                                                     "pool2d_backward"]},
}
STACKING_CONV = ("conv2d", "fastconv2d")  # the layers of notebook 04 with the conv API
COMMITTED = {"visible": checks.VISIBLE_CASES, "kernel": hidden_tests.KERNEL_CASES}
MAKE_RELEASE = "run `make release` to regenerate it"


@functools.cache
def committed(source):
    """The cases of a committed file, "visible" or "kernel", as the checks read them."""
    return casefile.read(COMMITTED[source])


def all_cases(source):
    return [(test, index, case) for test, test_cases in committed(source).items()
            for index, case in enumerate(test_cases)]


def _differences(old, new):
    """Where two {test: [case dict, ...]} differ (tests, case counts, fields, dtypes, shapes, values); [] if nowhere."""
    found = [] if old.keys() == new.keys() else [f"tests {sorted(old)} != {sorted(new)}"]
    for test in sorted(old.keys() & new.keys()):
        if len(old[test]) != len(new[test]):
            found.append(f"{test}: {len(old[test])} cases != {len(new[test])}")
        for index, (a, b) in enumerate(zip(old[test], new[test])):
            if a.keys() != b.keys():
                found.append(f"{test}/{index}: fields {sorted(a.keys() ^ b.keys())}")
            for field in sorted(a.keys() & b.keys()):
                x, y = a[field], b[field]
                if isinstance(x, str) or isinstance(y, str):
                    same = x == y
                else:
                    x, y = np.asarray(x), np.asarray(y)
                    same = x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y)
                if not same:
                    found.append(f"{test}/{index}/{field}")
    return found


# ---- the committed files are up to date --------------------------------------------------------------

@pytest.mark.parametrize("source, make", [("visible", cases.visible), ("kernel", cases.kernel)])
def test_the_committed_case_file_is_what_autograder_cases_makes_now(source, make):
    found = _differences(committed(source), make())
    assert not found, f"{COMMITTED[source]} is out of date with autograder/cases.py ({len(found)} differences: " \
                      f"{found[:5]}); {MAKE_RELEASE}."


def test_the_committed_worked_examples_are_what_autograder_worked_examples_makes_now():
    fresh = worked_examples.arrays()
    stale = f"{worked_examples.WORKED_EXAMPLES} is out of date with autograder/worked_examples.py; {MAKE_RELEASE}."
    with np.load(worked_examples.WORKED_EXAMPLES, allow_pickle=False) as stored:
        assert sorted(stored.files) == sorted(fresh), stale
        for name, array in fresh.items():
            assert stored[name].dtype == array.dtype and stored[name].shape == array.shape, f"{name}: {stale}"
            np.testing.assert_array_equal(stored[name], array, err_msg=f"{name}: {stale}")
    shipped = cnnkit.data.worked_examples()
    assert sorted(shipped) == sorted(fresh)
    assert all(np.array_equal(shipped[name], fresh[name]) for name in fresh)
    shipped["routing_x"][0, 0] = 99.0  # a copy: the next call is not affected
    assert cnnkit.data.worked_examples()["routing_x"][0, 0] == worked_examples.ROUTING_X[0, 0]


def test_the_drift_check_sees_a_changed_value_dtype_field_label_and_case():
    fresh = cases.visible()
    assert _differences(fresh, cases.visible()) == []
    changed = {test: [dict(case) for case in test_cases] for test, test_cases in fresh.items()}
    changed["conv_views"][1]["x"] = changed["conv_views"][1]["x"] + 1e-12
    changed["pool_forward"][0]["k"] = np.array(2.0)
    del changed["pool_backward"][2]["mistake/pool_backward_average"]
    changed["pool_views"][0]["label"] = "another label"
    changed["conv_batch_of_one"].pop()
    assert _differences(fresh, changed) == [
        "conv_batch_of_one: 3 cases != 2", "conv_views/1/x",
        "pool_backward/2: fields ['mistake/pool_backward_average']", "pool_forward/0/k", "pool_views/0/label"]
    assert not cases.same_cases(fresh, changed)


def test_write_data_files_writes_only_what_changed(tmp_path):
    visible, kernel = tmp_path / "visible.npz", tmp_path / "kernel.npz"
    assert cases.write_data_files(visible, kernel) == [visible, kernel]
    assert _differences(casefile.read(visible), cases.visible()) == []
    assert _differences(casefile.read(kernel), cases.kernel()) == []
    before = visible.read_bytes(), kernel.read_bytes()
    assert cases.write_data_files(visible, kernel) == []  # re-releasing leaves the committed bytes alone
    assert (visible.read_bytes(), kernel.read_bytes()) == before
    stale = cases.visible()
    stale["pool_forward"][0]["x"] = stale["pool_forward"][0]["x"] * 2
    visible.write_bytes(casefile.to_bytes(stale))
    assert cases.write_data_files(visible, kernel) == [visible]
    assert _differences(casefile.read(visible), cases.visible()) == []
    examples = tmp_path / "worked_examples.npz"
    assert worked_examples.write(examples) is True and worked_examples.write(examples) is False


def test_both_files_have_every_graded_test():
    assert set(committed("visible")) == set(committed("kernel")) == set(checks.RUNNERS) == set(TEST_KINDS)
    assert all(committed("visible")[test] and committed("kernel")[test] for test in TEST_KINDS)
    assert all(isinstance(case["label"], str) and case["label"] for _, _, case in all_cases("visible"))


# ---- the expected outputs and the signatures are the oracle's -------------------------------------------

def _conv_inputs(kind, case):
    x, weights, stride = case["x"], case["weights"], int(case["stride"])
    if kind == "conv_forward":
        return {"x": x, "weights": weights, "stride": stride}
    return {"x": x, "grad_output": case["grad_output"], "k": weights.shape[1], "stride": stride}


def _pool_inputs(kind, case):
    if kind == "pool_forward":
        return {"x": case["x"], "k": int(case["k"])}
    return {"x": case["x"], "grad_output": case["grad_output"], "k": int(case["k"])}


def _conv2d_inputs(kind, case):
    common = {"x": case["x"], "weights": case["weights"], "stride": int(case["stride"]),
              "padding": int(case["padding"])}
    return {**common, "bias": case["bias"]} if kind == "conv2d_forward" else \
        {**common, "grad_output": case["grad_output"]}


def _pool2d_inputs(kind, case):
    common = {"x": case["x"], "k": int(case["k"]), "stride": int(case["stride"])}
    return common if kind == "pool2d_forward" else {**common, "grad_output": case["grad_output"]}


def _expected_04(test, case):
    """{field: what the oracle gives} of a notebook-04 case."""
    x, grad_output = case["x"], case["grad_output"]
    if test.startswith("pool2d"):
        k, stride = int(case["k"]), int(case["stride"])
        return {"expected_out": oracle.maxpool2d_forward(x, k, stride),
                "expected_grad": oracle.maxpool2d_backward(x, grad_output, k, stride)}
    stride, padding = int(case["stride"]), int(case["padding"])
    grads = oracle.conv2d_backward(x, case["weights"], grad_output, stride, padding)
    return {"expected_out": oracle.conv2d(x, case["weights"], case["bias"], stride, padding),
            **{f"expected_grad_{key}": grads[key] for key in grads}}


def _check_signatures(where, test, case):
    for field in case:
        if field.startswith("mistake/"):
            name = field.removeprefix("mistake/")
            kind = mistakes.BY_NAME[name].kind
            assert kind in TEST_KINDS[test], f"{where}: {field}"
            inputs = (_conv_inputs if kind.startswith("conv_") else _pool_inputs if kind.startswith("pool_") else
                      _conv2d_inputs if kind.startswith("conv2d") else _pool2d_inputs)(kind, case)
            np.testing.assert_allclose(case[field], mistakes.BY_NAME[name].output(**inputs), rtol=1e-12,
                                       atol=1e-12, err_msg=f"{where}: {field}")
            assert case[f"cause/{name}"] == mistakes.BY_NAME[name].cause, f"{where}: cause/{name}; {MAKE_RELEASE}"
    assert {field.removeprefix("cause/") for field in case if field.startswith("cause/")} == {
        field.removeprefix("mistake/") for field in case if field.startswith("mistake/")}, where


@pytest.mark.parametrize("source", COMMITTED)
def test_expected_outputs_and_signatures_are_the_oracles_on_the_case_inputs(source):
    for test, index, case in all_cases(source):
        where = f"{source} {test}/{index}"
        x, grad_output = case["x"], case["grad_output"]
        if test.split("_")[0] in (*STACKING_CONV, "pool2d"):
            for field, expected in _expected_04(test, case).items():
                assert case[field].shape == expected.shape, f"{where}: {field}"
                np.testing.assert_allclose(case[field], expected, rtol=1e-12, atol=1e-12, err_msg=f"{where}: {field}")
            _check_signatures(where, test, case)
            continue
        if test.startswith("conv"):
            weights, stride = case["weights"], int(case["stride"])
            assert x.ndim == 4 and x.shape[1] == 1 and weights.ndim == 3 and weights.shape[1] == weights.shape[2], where
            expected_out = oracle.conv_forward(x, weights, stride)
            expected_grad = oracle.conv_weight_grad(x, grad_output, weights.shape[1], stride)
            assert case["expected_grad"].shape == weights.shape, where
        else:
            k = int(case["k"])
            expected_out, expected_grad = oracle.maxpool_forward(x, k), oracle.maxpool_backward(x, grad_output, k)
            assert case["expected_grad"].shape == x.shape, where
        assert case["expected_out"].shape == grad_output.shape == expected_out.shape, where
        np.testing.assert_allclose(case["expected_out"], expected_out, rtol=1e-12, atol=1e-12, err_msg=where)
        np.testing.assert_allclose(case["expected_grad"], expected_grad, rtol=1e-12, atol=1e-12, err_msg=where)
        _check_signatures(where, test, case)


# ---- the known mistakes -----------------------------------------------------------------------------

def test_every_registered_mistake_is_complete():
    """A name that starts with its kind, an output function of that name, a cause in one sentence, code for the
    solution regions of its layer, and the tests it fails, among its layer's; every kind of output has mistakes."""
    for mistake in mistakes.MISTAKES:
        assert mistake.kind in KINDS and mistake.output.__name__ == f"{mistake.name}_output", mistake.name
        assert mistake.cause.strip().endswith(".") and mistake.cause.count(". ") == 0, mistake.name
        assert mistake.code and set(mistake.code) <= set(mistakes.REGIONS[mistake.layer]), mistake.name
        assert mistake.fails and all(test.startswith(mistake.layer + "_") for test in mistake.fails), mistake.name
    assert list(mistakes.BY_NAME) == [mistake.name for mistake in mistakes.MISTAKES]  # names are unique
    assert {mistake.kind for mistake in mistakes.MISTAKES} == set(KINDS)
    assert {kind for kinds in cases.SIGNATURE_KINDS.values() for kind in kinds} == set(KINDS)


def _mistakes_that_differ(test, case):
    """The known mistakes whose output differs from the correct one on this case, from the case's configuration:
    a flip needs a filter that is not symmetric under a half turn (k > 1), the input index and ignoring the stride
    need a stride > 1, averaging over the batch a batch > 1, the tie mistakes a tie; the others always differ."""
    names = set()
    for kind in TEST_KINDS[test]:
        if kind == "conv_forward":
            weights = case["weights"]
            if not np.array_equal(weights, weights[:, ::-1, ::-1]):
                names.add("conv_forward_flipped")
            if int(case["stride"]) > 1:
                names.add("conv_forward_at_input_index")
        elif kind == "conv_backward":
            names.update({"conv_backward_ignoring_stride"} if int(case["stride"]) > 1 else set())
            names.update({"conv_backward_averaged"} if len(case["x"]) > 1 else set())
            names.update({"conv_backward_flipped"} if case["weights"].shape[1] > 1 else set())
        elif kind == "pool_forward":
            names.update({"pool_forward_average", "pool_forward_at_input_index"})
        elif kind == "pool_backward":
            names.add("pool_backward_average")
            if _window_has_tied_maximum(case["x"], int(case["k"])):
                names.update({"pool_backward_every_tied_max", "pool_backward_last_max"})
        elif kind == "conv2d_forward":
            names.update({"conv2d_forward_padding_on_output"} if int(case["padding"]) > 0 else set())
            names.update({"conv2d_forward_channels_averaged"} if case["x"].shape[1] > 1 else set())
        elif kind == "conv2d_backward_weights":
            names.update({"conv2d_backward_weights_averaged"} if len(case["x"]) > 1 else set())
        elif kind == "pool2d_forward":
            names.add("pool2d_forward_average")
        elif kind == "conv2d_backward_bias":
            names.update({"conv2d_backward_bias_last_position"} if case["grad_output"][0, 0].size > 1 else set())
        elif kind == "conv2d_backward_x":
            weights = case["weights"]
            names.update({"conv2d_backward_x_ignoring_stride"} if int(case["stride"]) > 1 else set())
            names.update({"conv2d_backward_x_crop_at_corner"} if int(case["padding"]) > 0 else set())
            grad_output, k = case["grad_output"], weights.shape[-1]
            uniform = np.all(grad_output == grad_output.flat[0]) and int(case["padding"]) == k - 1  # all offsets alike
            names.update({"conv2d_backward_x_filter_not_flipped"} if not np.array_equal(
                weights, weights[:, :, ::-1, ::-1]) and not uniform else set())
        elif kind == "pool2d_backward":
            shared = oracle.maxpool2d_backward(case["x"], np.ones(case["grad_output"].shape), int(case["k"]),
                                               int(case["stride"])) > 1  # the first maximum of several windows
            names.update({"pool2d_backward_overlap_assigned"} if shared.any() else set())
    return names


@pytest.mark.parametrize("source", COMMITTED)
def test_every_case_carries_the_signature_of_each_mistake_that_can_differ_on_it(source):
    for test, index, case in all_cases(source):
        carried = {field.removeprefix("mistake/") for field in case if field.startswith("mistake/")}
        assert carried == _mistakes_that_differ(test, case), f"{source} {test}/{index}"
        if TEST_KINDS[test]:  # only a 1x1 filter with stride 1 (and no padding) leaves no mistake to tell apart
            assert carried or (test in ("conv_forward_stride1", "conv2d_backward_input")
                               and case["weights"].shape[-1] == 1) or (
                test == "pool2d_backward" and int(case["stride"]) >= int(case["k"])), f"{test}/{index}"


@pytest.mark.parametrize("source", COMMITTED)
def test_each_graded_test_can_diagnose_the_mistakes_its_configurations_allow(source):
    diagnosable = {test: set() for test in TEST_KINDS}
    for test, _, case in all_cases(source):
        diagnosable[test] |= {field.removeprefix("mistake/") for field in case if field.startswith("mistake/")}
    assert diagnosable == {
        "conv_views": set(), "pool_views": set(),
        "conv_forward_stride1": {"conv_forward_flipped"},  # stride 1: the input index is the output index
        "conv_forward_strided": {"conv_forward_flipped", "conv_forward_at_input_index"},
        "conv_backward_stride1": {"conv_backward_averaged", "conv_backward_flipped"},
        "conv_backward_strided": {"conv_backward_ignoring_stride", "conv_backward_averaged", "conv_backward_flipped"},
        "conv_batch_of_one": {"conv_forward_flipped", "conv_backward_averaged", "conv_backward_flipped"},
        "pool_forward": {"pool_forward_average", "pool_forward_at_input_index"},
        "pool_backward": {"pool_backward_average"},  # no ties: every or the last maximum is the first
        "pool_backward_ties": {"pool_backward_every_tied_max", "pool_backward_last_max", "pool_backward_average"},
        "conv2d_forward": {"conv2d_forward_channels_averaged"},  # no padding
        "conv2d_forward_padding_stride": {"conv2d_forward_padding_on_output", "conv2d_forward_channels_averaged"},
        "conv2d_backward_params": {"conv2d_backward_weights_averaged", "conv2d_backward_bias_last_position"},
        "conv2d_backward_input": set(X_GRADIENT_MISTAKES),
        "conv2d_batch_of_one": set(EVERY_CONV2D_MISTAKE) - {"conv2d_backward_weights_averaged"},  # N = 1
        "fastconv2d": set(EVERY_CONV2D_MISTAKE),
        "pool2d_forward": {"pool2d_forward_average"},
        "pool2d_backward": {"pool2d_backward_overlap_assigned"},
    }


X_GRADIENT_MISTAKES = ["conv2d_backward_x_ignoring_stride", "conv2d_backward_x_crop_at_corner",
                       "conv2d_backward_x_filter_not_flipped"]
EVERY_CONV2D_MISTAKE = [mistake.name for mistake in mistakes.MISTAKES if mistake.layer == "conv2d"]


# ---- ties ---------------------------------------------------------------------------------------------

def _window_has_tied_maximum(x, k, stride=None):
    """Whether a k x k window of x (N, C, H, W), ``stride`` apart (default k), holds its maximum twice, window by
    window."""
    s = stride or k
    for n, c in np.ndindex(x.shape[:2]):
        for p in range((x.shape[2] - k) // s + 1):
            for q in range((x.shape[3] - k) // s + 1):
                window = x[n, c, p * s:p * s + k, q * s:q * s + k]
                if np.count_nonzero(window == window.max()) > 1:
                    return True
    return False


def test_has_ties_on_hand_made_inputs():
    # 2x2 windows: [[1, 2], [3, 4]] and [[2, 2], [0, 5]] (a tie below the maximum); the dropped border repeats maxima
    no_tie = np.array([[[[1, 2, 9], [3, 4, 9], [4, 4, 9]],
                        [[2, 2, 7], [0, 5, 7], [7, 7, 7]]]], dtype=float)
    assert not cases.has_ties(no_tie, 2) and not _window_has_tied_maximum(no_tie, 2)
    # a second image whose second channel has the tied maxima 6 away from the top-left corner
    tie = np.concatenate([no_tie, no_tie.copy()])
    tie[1, 1, :2, :2] = [[0, 6], [6, 1]]
    assert cases.has_ties(tie, 2) and _window_has_tied_maximum(tie, 2)
    # 3x3 windows: distinct values, then all equal
    assert not cases.has_ties(np.arange(12.0).reshape(1, 1, 3, 4), 3)
    assert cases.has_ties(np.full((1, 1, 3, 4), -1.5), 3)


@pytest.mark.parametrize("source", COMMITTED)
def test_the_ties_flag_of_every_pooling_case_is_right(source):
    for test, index, case in all_cases(source):
        if test.startswith("pool"):
            x, k, ties = case["x"], int(case["k"]), case["ties"]
            stride = int(case.get("stride", k))
            assert ties.shape == () and ties.dtype == bool, f"{test}/{index}"
            assert bool(ties) == cases.has_ties(x, k, stride) == _window_has_tied_maximum(x, k, stride), \
                f"{source} {test}/{index}"
            # the ties are where they are meant to be: notebook 02's ties test, and 04's last backward case
            meant = test == "pool_backward_ties" or (test == "pool2d_backward" and index == len(committed(source)[test]) - 1)
            assert bool(ties) == meant, f"{source} {test}/{index}"
        else:
            assert "ties" not in case and "k" not in case, f"{test}/{index}"
