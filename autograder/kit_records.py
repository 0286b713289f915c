"""What the kit remembers of each graded student, in a table of nbgrader's gradebook database (SQLAlchemy).

One row per student: the hash of what was graded (:func:`submission_hash`: the notebooks handed in, the reference
notebooks and the hidden cases) and the kit's whole result, as JSON, written by ``make grade`` or by nbgrader's
autograde (:mod:`autograder.kit_autograde`; the result says which). A re-run of ``make grade`` grades only the
students whose hash changed (``--force`` grades everyone) and takes the others' results from here, so its reports
still hold the whole class; ``make reports`` reports every student held here. The table sits beside nbgrader's own,
which it does not touch.
"""

import datetime
import hashlib
import json
import os
from pathlib import Path

from sqlalchemy import Column, DateTime, MetaData, String, Table, Text, create_engine, delete, insert, select

_metadata = MetaData()
RESULTS = Table(
    "cnnkit_results", _metadata,
    Column("student_id", String(128), primary_key=True),
    Column("content_hash", String(64), nullable=False),
    Column("result", Text, nullable=False),  # the StudentResult's fields, as JSON
    Column("graded_at", DateTime, nullable=False),
)


GRADEBOOK_VARIABLE = "CNNKIT_GRADEBOOK"  # make's GRADEBOOK=...


def configured_url():
    """The gradebook database URL set in $CNNKIT_GRADEBOOK (any SQLAlchemy URL, e.g. postgresql://user@host/db), or
    None."""
    return os.environ.get(GRADEBOOK_VARIABLE) or None


def database_url(course_root):
    """The URL of the course's gradebook database: $CNNKIT_GRADEBOOK when set, else nbgrader's default, gradebook.db
    (SQLite) in the course folder. nbgrader_config.py gives nbgrader the same (``CourseDirectory.db_url``)."""
    return configured_url() or f"sqlite:///{Path(course_root) / 'gradebook.db'}"


def grading_key(solutions, hidden_cases):
    """A hash of what decides every grade besides the submission: the reference notebooks and the hidden cases."""
    digest = hashlib.sha256()
    for path in [*sorted(Path(solutions).glob("*.ipynb")), Path(hidden_cases)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def submission_hash(submission, key):
    """The hash of one student's submission as read (bytes of each notebook, or why it is missing or unreadable),
    combined with ``key`` (see :func:`grading_key`)."""
    digest = hashlib.sha256(key.encode())
    for name in sorted({*submission.notebooks, *submission.missing, *submission.unreadable}):
        if name in submission.notebooks:
            content = Path(submission.notebooks[name]).read_bytes()
        else:
            content = f"missing or unreadable: {submission.unreadable.get(name, 'missing')}".encode()
        digest.update(name.encode() + b"\0" + hashlib.sha256(content).digest())
    return digest.hexdigest()


class Records:
    """The kit's table in the gradebook database at ``url``."""

    def __init__(self, url):
        self.engine = create_engine(url, connect_args={"timeout": 60} if url.startswith("sqlite") else {})
        _metadata.create_all(self.engine)

    def load(self):
        """{student_id: (content_hash, result fields)} of every student graded so far."""
        with self.engine.connect() as connection:
            return {row.student_id: (row.content_hash, json.loads(row.result))
                    for row in connection.execute(select(RESULTS))}

    def save(self, student_id, content_hash, fields):
        """Remember one student's result (replacing the previous one)."""
        with self.engine.begin() as connection:
            connection.execute(delete(RESULTS).where(RESULTS.c.student_id == student_id))
            connection.execute(insert(RESULTS).values(
                student_id=student_id, content_hash=content_hash, result=json.dumps(fields),
                graded_at=datetime.datetime.now(datetime.timezone.utc)))

    def close(self):
        self.engine.dispose()
