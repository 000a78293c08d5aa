"""Coding exercises answerable in PyTorch or Keras, one module per chapter.

Each chapter module ``godeep.exercises.chN`` re-exports the exercises defined here, so
``ch4.basic_block.check(BasicBlock)`` works as for every other exercise. The reference
answers live in :mod:`godeep.exercises.solutions` (``chN_torch`` and ``chN_keras``).
"""
