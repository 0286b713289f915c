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
