"""The reference layers, imported straight from the source notebooks in ``solutions/``."""

from pathlib import Path

import numpy as np

from autograder.sample_class import CLASS_NAMES, mistake_sources
from cnnkit.notebook_loader import load_classes

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"

Convolution2dLayer = load_classes(SOLUTIONS / "01_convolution.ipynb", "Convolution2dLayer")["Convolution2dLayer"]
MaxPooling2dLayer = load_classes(SOLUTIONS / "02_max_pooling.ipynb", "MaxPooling2dLayer")["MaxPooling2dLayer"]


def with_mistakes(*names):
    """(conv class, pooling class): the reference classes with the code of these registered mistakes
    (autograder/mistakes.py) in them."""
    classes = {"Convolution2dLayer": Convolution2dLayer, "MaxPooling2dLayer": MaxPooling2dLayer}
    for notebook, source in mistake_sources(names).items():
        namespace = {"np": np}
        exec(source, namespace)
        classes[CLASS_NAMES[notebook]] = namespace[CLASS_NAMES[notebook]]
    return classes["Convolution2dLayer"], classes["MaxPooling2dLayer"]
