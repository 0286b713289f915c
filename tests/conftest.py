"""The slowest test files start first: pytest-xdist hands whole files to its two workers in collection order, so a
long file that started last would keep one worker busy alone at the end."""

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
