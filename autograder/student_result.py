"""One student's grading result, as every path that grades writes it (see autograder.kit_autograde)."""

from dataclasses import dataclass, field

# Statuses, worst first: a student's status is the worst thing that happened to any notebook.
STATUSES = ["grader error", "invalid student id", "kernel died", "timed out", "nbgrader failed", "unreadable notebook",
            "missing notebook", "feedback too slow to render", "graded"]
# Who ran the grading: the kit's own command, or nbgrader's autograde (its command line or the formgrader's
# Autograde button). Both grade with the kit's verdicts.
GRADED_BY = ["make grade", "nbgrader autograde"]


@dataclass
class StudentResult:
    """One row of the grade table."""

    student_id: str
    status: str = "graded"
    notes: list = field(default_factory=list)  # human-readable reasons, one per problem
    scores: dict = field(default_factory=dict)  # notebook -> points earned
    tests: list = field(default_factory=list)  # (notebook, grade_id, points, max_points)
    review: list = field(default_factory=list)  # (notebook, grade_id, kit points, nbgrader points, kit's reason)
    seconds: dict = field(default_factory=dict)  # stage -> seconds spent on this student (see autograder.stages)
    manual: dict = field(default_factory=dict)  # grade_id -> (a person's manual score, the kit's points)
    unchanged: bool = False  # the same submission as at the last run: its result was kept, not graded again
    graded_by: str = GRADED_BY[0]  # which entry point graded it (one of GRADED_BY)
    worker: str = ""  # the host and process that graded it
    sandboxed: bool = True  # whether that worker ran the student's code in its sandbox

    @classmethod
    def from_fields(cls, fields):
        """A result back from :func:`dataclasses.asdict`'s fields (as kept in autograder.kit_records)."""
        fields = {**fields, "tests": [tuple(test) for test in fields["tests"]],
                  "review": [tuple(row) for row in fields["review"]], "manual": {}}
        return cls(**fields)

    def earn_nothing(self, graded_cells):
        """Zero points for every graded test (a submission that cannot be graded, or a failure of the kit)."""
        self.tests = [(nb, grade_id, 0.0, points) for nb, cells in graded_cells.items() for grade_id, points in cells]
        self.scores = {notebook: 0.0 for notebook in graded_cells}

    def worsen(self, status, note):
        """Record a problem; keep the worst status."""
        self.notes.append(note)
        self._keep_worse(status)

    def not_handed_in(self, notebook):
        """Record that ``notebook`` (a name without .ipynb) was not handed in."""
        self.worsen("missing notebook", f"{notebook}.ipynb was not handed in")

    def absorb(self, other):
        """Take the verdicts, points, review rows and notes of ``other`` (computed beside this one), and the worse
        status."""
        self.tests, self.scores, self.review = other.tests, other.scores, self.review + other.review
        self.notes += other.notes
        self._keep_worse(other.status)

    def _keep_worse(self, status):
        if STATUSES.index(status) < STATUSES.index(self.status):
            self.status = status
