"""Reference solutions of the coding exercises: the single source of each worked solution.

One module per chapter and framework (``ch4_torch``, ``ch4_keras``): plain functions and
classes, written as a reader would write them, that the book includes at build time with
``literalinclude`` + ``:pyobject:`` and that the tests run through their own checkers.
A Keras module imports Keras only when it is imported itself.
"""
