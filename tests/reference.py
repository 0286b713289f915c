"""The reference layers, imported straight from the source notebooks in ``solutions/``."""

from pathlib import Path

from cnnkit.notebook_loader import load_classes

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"

Convolution2dLayer = load_classes(SOLUTIONS / "01_convolution.ipynb", "Convolution2dLayer")["Convolution2dLayer"]
MaxPooling2dLayer = load_classes(SOLUTIONS / "02_max_pooling.ipynb", "MaxPooling2dLayer")["MaxPooling2dLayer"]
