"""The hidden cases: reproducible, plain arrays, different from the visible ones, passed by the reference,
and built so that no input is simply increasing; the student's kernel runs other cases, from a public seed."""

import numpy as np
import pytest

from autograder import cases, verdict
from autograder.hidden_cases import DEFAULT_SEED, HIDDEN_CASES
from autograder.runner import hidden_tests
from cnnkit import casefile, checks
from reference import Convolution2dLayer, MaxPooling2dLayer

TESTS = sorted(checks.RUNNERS)


def generate():
    return cases.generate(DEFAULT_SEED)


def test_the_committed_file_is_what_the_generator_makes_from_the_fixed_seed(tmp_path):
    fresh = tmp_path / "cases.npz"
    fresh.write_bytes(casefile.to_bytes(generate()))
    with np.load(HIDDEN_CASES, allow_pickle=False) as committed, np.load(fresh, allow_pickle=False) as regenerated:
        assert sorted(committed.files) == sorted(regenerated.files)
        for key in committed.files:
            np.testing.assert_array_equal(committed[key], regenerated[key], err_msg=key)


def test_there_are_cases_for_every_graded_cell_of_both_notebooks():
    assert set(generate()) == set(checks.RUNNERS) == set(checks.TITLES)
    assert all(len(test_cases) >= 2 for test_cases in generate().values())


@pytest.mark.parametrize("test", TESTS)
def test_the_reference_passes_every_hidden_case(test, capsys):
    layer = Convolution2dLayer if test.startswith("conv") else MaxPooling2dLayer
    hidden_tests.run(test, layer)
    assert f"{test}: {len(hidden_tests.load(test))} hidden cases passed" in capsys.readouterr().out


@pytest.mark.parametrize("test", TESTS)
def test_the_reference_passes_every_case_of_the_instructors_seed(test):
    layer = Convolution2dLayer if test.startswith("conv") else MaxPooling2dLayer
    secret = cases.for_checks(generate())[test]
    for number, case in enumerate(secret, start=1):
        checks.run_case(test, layer, case, f"hidden case {number} of {len(secret)}")


def test_no_input_is_simply_increasing_and_none_repeats_a_visible_case():
    visible = [case["x"] for test in TESTS for case in checks.visible_cases(test)]
    assert len(visible) >= 30
    for test, test_cases in generate().items():
        for case in test_cases:
            flat = case["x"].ravel()
            assert not np.all(np.diff(flat) >= 0), test
            assert not any(v.shape == case["x"].shape and np.array_equal(v, case["x"]) for v in visible), test


def test_tie_cases_really_have_ties_and_the_others_do_not():
    for test in ("pool_backward", "pool_backward_ties"):
        for case in generate()[test]:
            assert cases.has_ties(case["x"], int(case["k"])) == (test == "pool_backward_ties")


def test_the_kernel_runs_cases_of_the_public_seed_never_the_instructors():
    secret = verdict.load_hidden(HIDDEN_CASES)
    kernel = {test: hidden_tests.load(test) for test in TESTS}
    assert cases.KERNEL_SEED != DEFAULT_SEED
    for test in TESTS:
        assert len(kernel[test]) == len(secret[test])
        for in_kernel, hidden in zip(kernel[test], secret[test]):
            assert in_kernel["x"].shape == hidden["x"].shape and not np.array_equal(in_kernel["x"], hidden["x"])
