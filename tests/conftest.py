"""The slowest test files start first: pytest-xdist hands whole files to its two workers in collection order, so a
long file that started last would keep one worker busy alone at the end. The course folders that grading tests
start from are copies of one that nbgrader generated once per worker (:func:`course_copy`)."""

import shutil

import pytest

from autograder.release import generate_assignment, release_folder

# xdist deals the first files out in turn (hostile to one worker, the pipeline to the other, and so on).
SLOWEST_FIRST = ["test_hostile_grading.py", "test_grading_pipeline.py", "test_student_styles.py",
                 "test_formgrader.py", "test_cluster.py", "test_release.py"]


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return SLOWEST_FIRST.index(name) if name in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)


def pytest_sessionstart(session):
    (session.config.rootpath / "build" / "mutation-table.txt").unlink(missing_ok=True)


def pytest_terminal_summary(terminalreporter, config):
    """The mutation suite's table (tests/test_mutations.py writes it), when it ran."""
    table = config.rootpath / "build" / "mutation-table.txt"
    if table.is_file() and not hasattr(config, "workerinput"):
        terminalreporter.write_sep("-", "mutation suite")
        terminalreporter.write(table.read_text())


@pytest.fixture(scope="session")
def course_copy(tmp_path_factory):
    """A function ``copy(root)`` that makes ``root`` a course folder generated from ``solutions/`` (source, release
    and an SQLite gradebook that knows the assignment) and returns its release folder. nbgrader generates the course
    once per test process (it takes seconds); grading finds the copies up to date and does not generate again."""
    generated = tmp_path_factory.mktemp("generated-course")
    generate_assignment(generated)

    def copy(root):
        for folder in ("source", "release"):
            shutil.copytree(generated / folder, root / folder, dirs_exist_ok=True)
        shutil.copy2(generated / "gradebook.db", root / "gradebook.db")
        return release_folder(root)
    return copy
