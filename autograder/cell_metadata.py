"""nbgrader's check of the cells' nbgrader metadata, with its JSON schema made into a validator once per process.

nbgrader's validator calls ``jsonschema.validate`` for every cell, which checks the schema itself each time: 0.15 s
for the course's four notebooks (0.015 s here), and it runs twice per notebook autograded. Here metadata that the
prepared validator accepts passes at once; any other goes through nbgrader's own check, which raises nbgrader's
error. Set in nbgrader_config.py in place of nbgrader's CheckCellMetadata, in Autograde's sanitizing and
autograding steps.
"""

import traceback

import jsonschema
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator
from nbgrader.preprocessors import CheckCellMetadata


_prepared = {}  # nbgrader's schema version -> a jsonschema validator of its schema, the schema checked once


def _validator(version, schema):
    """The prepared validator of ``schema``, nbgrader's JSON schema of metadata version ``version``."""
    if version not in _prepared:
        validator_class = jsonschema.validators.validator_for(schema)
        validator_class.check_schema(schema)
        _prepared[version] = validator_class(schema)
    return _prepared[version]


class _SchemaPreparedOnce(BaseMetadataValidator):
    def validate_cell(self, cell):
        meta = cell.metadata.get("nbgrader")
        if meta is not None and meta.get("schema_version", 0) == self.schema_version and \
                _validator(self.schema_version, self.schema).is_valid(meta):
            return
        super().validate_cell(cell)


class KitMetadataValidator(MetadataValidator, _SchemaPreparedOnce):
    """nbgrader's validator of the current schema version, whose check of a cell first calls the next class in the
    method resolution order for the schema's check: :class:`_SchemaPreparedOnce`, not nbgrader's base class."""


class KitCheckCellMetadata(CheckCellMetadata):
    """nbgrader's CheckCellMetadata with :class:`KitMetadataValidator`."""

    def preprocess(self, nb, resources):
        try:
            KitMetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message)
        return nb, resources
