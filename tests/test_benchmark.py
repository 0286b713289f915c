"""The benchmark's own bookkeeping (its runs are too slow for the suite: `make benchmark`)."""

import csv

from nbgrader.converters import Autograde

from autograder import benchmark, stages


def test_the_class_cycles_through_the_samples_and_leaves_out_what_stops_plain_nbgrader(tmp_path):
    for name in ["b", "a", *benchmark.STOPS_PLAIN_NBGRADER]:
        (tmp_path / "samples" / name).mkdir(parents=True)
        (tmp_path / "samples" / name / "01.ipynb").write_text(name)
    folder = benchmark.repeat_class(tmp_path / "samples", tmp_path / "class", 5)
    assert sorted(path.name for path in folder.iterdir()) == ["s000_a", "s001_b", "s002_a", "s003_b", "s004_a"]
    benchmark.repeat_class(tmp_path / "samples", folder, 1, first=5)
    assert (folder / "s005_a" / "01.ipynb").read_text() == "a"


def test_plain_autograde_runs_nbgraders_default_preprocessors():
    defaults = Autograde.class_traits()
    for step, names in [("sanitize", benchmark.NBGRADER_SANITIZE_PREPROCESSORS),
                        ("autograde", benchmark.NBGRADER_AUTOGRADE_PREPROCESSORS)]:
        classes = defaults[f"{step}_preprocessors"].default()
        assert names == [f"{cls.__module__.split('.')[0]}.preprocessors.{cls.__name__}" for cls in classes]


def test_the_breakdown_is_the_mean_of_each_stage_over_the_students(tmp_path):
    with open(tmp_path / "seconds.csv", "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["student_id", *stages.STAGES])
        writer.writerow(["one", *range(len(stages.STAGES))])
        writer.writerow(["two", *(3 * value for value in range(len(stages.STAGES)))])
    assert benchmark.stage_means(tmp_path) == {stage: 2.0 * index for index, stage in enumerate(stages.STAGES)}
