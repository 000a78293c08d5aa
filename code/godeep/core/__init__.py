"""The framework-neutral core of :mod:`godeep` (NumPy only: no PyTorch, no TensorFlow).

Architecture plans, argument checks and constants that a PyTorch module and its Keras twin
share live here, under public names, so that each twin imports them without loading the
other framework:

* :mod:`godeep.core.models`: activation and normalization names, MLP/ConvNet checks;
* :mod:`godeep.core.residual`: block plans (``6n + 2`` CIFAR depths, ImageNet stages),
  block checks, activation orders, the shortcut options of each variant;
* :mod:`godeep.core.resmlp`: gradient routes and checks of the residual MLPs;
* :mod:`godeep.core.transformer`: LayerNorm placements, sequence tasks, learning-rate warm-up;
* :mod:`godeep.core.train`: the training history, mini-batch order and argument checks.

Argument checks of single values are in :mod:`godeep.validate`.
"""
