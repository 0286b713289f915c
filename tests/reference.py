"""The reference layers, imported straight from the source notebooks in ``solutions/``."""

from pathlib import Path

from cnnkit.notebook_loader import load_classes

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"

Convolution2dLayer = load_classes(SOLUTIONS / "01_convolution.ipynb", "Convolution2dLayer")["Convolution2dLayer"]
MaxPooling2dLayer = load_classes(SOLUTIONS / "02_max_pooling.ipynb", "MaxPooling2dLayer")["MaxPooling2dLayer"]
_STACKING = load_classes(SOLUTIONS / "04_layers_that_stack.ipynb", "Conv2dLayer", "MaxPool2dLayer", "FastConv2dLayer")
Conv2dLayer, MaxPool2dLayer, FastConv2dLayer = (_STACKING[name] for name in ("Conv2dLayer", "MaxPool2dLayer",
                                                                             "FastConv2dLayer"))
REFERENCE_CLASSES = {"conv": Convolution2dLayer, "pool": MaxPooling2dLayer, "conv2d": Conv2dLayer,
                     "pool2d": MaxPool2dLayer, "fastconv2d": FastConv2dLayer}  # by layer, as autograder.runner.harvest
