"""The hidden cases: reproducible, plain arrays, different from the visible ones, passed by the reference,
and built so that no input is simply increasing; the student's kernel runs other cases, from a public seed."""

import numpy as np
import pytest

from autograder import verdict
from autograder.hidden_cases import DEFAULT_SEED, HIDDEN_CASES, to_npz_bytes
from cnnkit import case_generator, checks, hidden_tests
from reference import Convolution2dLayer, MaxPooling2dLayer

TESTS = sorted(hidden_tests.RUNNERS)


def generate():
    return case_generator.generate(DEFAULT_SEED)


def test_the_committed_file_is_what_the_generator_makes_from_the_fixed_seed(tmp_path):
    fresh = tmp_path / "cases.npz"
    fresh.write_bytes(to_npz_bytes(generate()))
    with np.load(HIDDEN_CASES, allow_pickle=False) as committed, np.load(fresh, allow_pickle=False) as regenerated:
        assert sorted(committed.files) == sorted(regenerated.files)
        for key in committed.files:
            np.testing.assert_array_equal(committed[key], regenerated[key], err_msg=key)


def test_there_are_cases_for_every_graded_cell_of_both_notebooks():
    assert set(generate()) == set(hidden_tests.RUNNERS)
    assert all(len(cases) >= 2 for cases in generate().values())


@pytest.mark.parametrize("test", TESTS)
def test_the_reference_passes_every_hidden_case(test, capsys):
    layer = Convolution2dLayer if test.startswith("conv") else MaxPooling2dLayer
    hidden_tests.run(test, layer)
    assert "hidden cases passed" in capsys.readouterr().out


def test_no_input_is_simply_increasing_and_none_repeats_a_visible_case():
    visible = [case[1] for kind in ("stride1", "strided", "batch_of_one") for case in checks.conv_cases(kind)]
    visible += [case[1] for case in checks.pool_cases() + checks.pool_tie_cases()]
    for test, cases in generate().items():
        for case in cases:
            flat = case["x"].ravel()
            assert not np.all(np.diff(flat) >= 0), test
            assert not any(v.shape == case["x"].shape and np.array_equal(v, case["x"]) for v in visible), test


def test_tie_cases_really_have_ties_and_the_others_do_not():
    for test in ("pool_backward", "pool_backward_ties"):
        for case in generate()[test]:
            assert checks.has_ties(case["x"], int(case["k"])) == (test == "pool_backward_ties")


def test_the_kernel_runs_cases_of_the_public_seed_never_the_instructors():
    secret = verdict.load_hidden(HIDDEN_CASES)
    kernel = {test: hidden_tests.load(test) for test in TESTS}
    assert case_generator.KERNEL_SEED != DEFAULT_SEED
    for test in TESTS:
        assert len(kernel[test]) == len(secret[test])
        for in_kernel, hidden in zip(kernel[test], secret[test]):
            assert in_kernel["x"].shape == hidden["x"].shape and not np.array_equal(in_kernel["x"], hidden["x"])
