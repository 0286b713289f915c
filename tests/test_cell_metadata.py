"""autograder.cell_metadata: nbgrader's check of the cells' metadata, its schema prepared once, accepts and refuses
exactly what nbgrader's own check does, with nbgrader's errors."""

import copy

import nbformat
import pytest
from nbgrader.nbgraderformat import MetadataValidator, SchemaTooOldError, ValidationError
from nbgrader.preprocessors import CheckCellMetadata

from autograder.cell_metadata import KitCheckCellMetadata, KitMetadataValidator
from reference import NOTEBOOKS


def graded_cell(nb):
    return next(cell for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("grade"))


def wrong_points(meta):
    meta["points"] = "lots"


def unknown_key_type(meta):
    meta["grade_id"] = 42


def old_schema(meta):
    meta["schema_version"] = 1


def solution_and_grade_flags_removed(meta):
    del meta["solution"]


def markdown_graded_without_points(meta):
    del meta["points"]


CORRUPTIONS = [wrong_points, unknown_key_type, old_schema, solution_and_grade_flags_removed,
               markdown_graded_without_points]


def error_of(validator, nb):
    try:
        validator().validate_nb(nb)
    except Exception as error:
        return type(error), str(error)
    return None


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda path: path.stem)
def test_the_released_notebooks_pass_both_checks(path):
    nb = nbformat.read(path, as_version=4)
    assert error_of(MetadataValidator, nb) is None and error_of(KitMetadataValidator, nb) is None
    assert KitCheckCellMetadata().preprocess(nb, {})[0] is nb


@pytest.mark.parametrize("corrupt", CORRUPTIONS, ids=lambda corrupt: corrupt.__name__)
def test_corrupted_metadata_fails_with_nbgraders_own_error(corrupt):
    nb = nbformat.read(NOTEBOOKS / "02_max_pooling.ipynb", as_version=4)
    corrupt(graded_cell(nb).metadata.nbgrader)
    expected = error_of(MetadataValidator, copy.deepcopy(nb))
    assert expected is not None and error_of(KitMetadataValidator, copy.deepcopy(nb)) == expected
    with pytest.raises((ValidationError, SchemaTooOldError)) as nbgraders:
        CheckCellMetadata().preprocess(copy.deepcopy(nb), {})
    with pytest.raises(type(nbgraders.value), match="metadata may be corrupted|Outdated schema"):
        KitCheckCellMetadata().preprocess(nb, {})
