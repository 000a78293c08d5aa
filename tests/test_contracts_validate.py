"""godeep.validate: the shared argument checks (NumPy only), their conversions and messages."""

from __future__ import annotations

import math

import numpy as np
import pytest

from godeep import validate

BAD = [
    (lambda: validate.integer("n", 2.0), TypeError, "n must be an int, got float"),
    (lambda: validate.integer("n", True), TypeError, "n must be an int, got bool"),
    (lambda: validate.integer("n", np.bool_(True)), TypeError, "n must be an int, got bool"),
    (lambda: validate.integer("n", "3"), TypeError, "n must be an int, got str"),
    (lambda: validate.integer("n", 5, 0, 4), ValueError, r"n must be in \[0, 4\], got 5"),
    (lambda: validate.integer("n", -1, low=0), ValueError, "n must be >= 0, got -1"),
    (lambda: validate.integer("n", 9, high=8), ValueError, "n must be <= 8, got 9"),
    (lambda: validate.positive_int("width", 0), ValueError, "width must be >= 1, got 0"),
    (lambda: validate.nonnegative_int("depth", -2), ValueError, "depth must be >= 0, got -2"),
    (
        lambda: validate.positive_ints("widths", 16),
        TypeError,
        "widths must be a sequence of ints, got int",
    ),
    (
        lambda: validate.positive_ints("widths", "16"),
        TypeError,
        "widths must be a sequence of ints, got str",
    ),
    (
        lambda: validate.positive_ints("widths", (1, 2), length=3),
        ValueError,
        r"widths must have 3 items, got 2: \(1, 2\)",
    ),
    (
        lambda: validate.positive_ints("widths", (1, 0)),
        ValueError,
        r"widths\[1\] must be >= 1, got 0",
    ),
    (lambda: validate.boolean("plain", 1), TypeError, "plain must be a bool, got int"),
    (lambda: validate.number("lr", "0.1"), TypeError, "lr must be a number, got str"),
    (lambda: validate.number("lr", True), TypeError, "lr must be a number, got bool"),
    (lambda: validate.number("lr", math.nan), ValueError, "lr must be a finite number, got nan"),
    (lambda: validate.number("lr", math.inf), ValueError, "lr must be a finite number, got inf"),
    (
        lambda: validate.number("p", 1.0, 0.0, 1.0, high_open=True),
        ValueError,
        r"p must be in \[0.0, 1.0\), got 1.0",
    ),
    (
        lambda: validate.number("eps", 0.0, low=0.0, low_open=True),
        ValueError,
        r"eps must be in \(0.0, inf\), got 0.0",
    ),
    (
        lambda: validate.number("x", -3.0, high=-4.0),
        ValueError,
        r"x must be in \(-inf, -4.0\], got -3.0",
    ),
    (
        lambda: validate.one_of("loss", "l1", ("mse", "cross_entropy")),
        ValueError,
        r"loss must be one of \('mse', 'cross_entropy'\), got 'l1'",
    ),
    (
        lambda: validate.one_of("loss", ["mse"], ("mse",)),
        ValueError,
        r"loss must be one of \('mse',\), got \['mse'\]",
    ),
    (
        lambda: validate.known_keys("options", {"b": 1, "a": 2}, ("c",)),
        TypeError,
        r"options has unknown key\(s\) \['a', 'b'\]; valid keys: \['c'\]",
    ),
    (
        lambda: validate.known_keys("options", [("a", 1)], ("a",)),
        TypeError,
        "options must be a dict, got list",
    ),
    (
        lambda: validate.finite_vector("alphas", [[1.0]]),
        ValueError,
        r"alphas must be 1-D, got shape \(1, 1\)",
    ),
    (
        lambda: validate.finite_vector("alphas", [0.0, -np.inf]),
        ValueError,
        "alphas must be finite, got -inf at index 1",
    ),
    (
        lambda: validate.finite_vector("alphas", ["x"]),
        TypeError,
        "alphas must be a 1-D array of numbers, got list",
    ),
    (lambda: validate.function("loss", 3), TypeError, "loss must be callable, got int"),
]


@pytest.mark.parametrize("call, error, fragment", BAD)
def test_validate_rejects(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_validate_converts_to_plain_python():
    assert type(validate.integer("n", np.int64(3))) is int
    assert validate.positive_ints("w", [np.int32(2), 3]) == (2, 3)
    assert validate.boolean("b", np.bool_(False)) is False
    assert type(validate.number("x", np.float32(0.5))) is float
    assert validate.number("x", math.inf, finite=False) == math.inf
    assert validate.known_keys("o", None, ()) == {}
    assert validate.finite_vector("a", range(3)).dtype == np.float64


def test_validate_imports_no_framework():
    import subprocess
    import sys

    code = "import sys, godeep.validate; print('torch' in sys.modules, 'tensorflow' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == ["False", "False"]
