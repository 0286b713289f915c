"""The hidden cases: reproducible, plain arrays, different from the visible ones, passed by the reference,
and built so that no input is simply increasing."""

import numpy as np
import pytest

from autograder.hidden_cases import HIDDEN_CASES, generate, to_npz_bytes
from cnnkit import checks, hidden_tests
from reference import Convolution2dLayer, MaxPooling2dLayer

TESTS = sorted(hidden_tests.RUNNERS)


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


def test_a_missing_file_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv(hidden_tests.ENVIRONMENT_VARIABLE, str(tmp_path / "nowhere.npz"))
    with pytest.raises(FileNotFoundError, match="nowhere.npz"):
        hidden_tests.run("conv_views", Convolution2dLayer)
