"""Tests of tools/bench.py's report: the median pass and the range of its Keras / PyTorch ratios."""

import pytest

from tools import bench


def rows(family: str, passes: list[tuple[list[float], list[float]]]) -> list[dict]:
    """Rows as the workers write them: per pass, the PyTorch and the Keras wall times of each run
    (CPU time set to twice the wall time)."""
    out = []
    for r, (torch_walls, keras_walls) in enumerate(passes):
        for framework, walls in (("pytorch", torch_walls), ("keras", keras_walls)):
            for i, wall in enumerate(walls):
                out.append(
                    dict(
                        family=family,
                        framework=framework,
                        repeat=r,
                        setting={"seed": i},
                        result=0.0,
                        wall=wall,
                        cpu=2 * wall,
                    )
                )
    return out


def cells(table: str, family: str) -> list[str]:
    line = next(x for x in table.splitlines() if x.startswith(f"| {family} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def test_the_table_reports_the_median_pass_and_the_range_of_the_ratios():
    # three passes with ratios 1.5, 1.0 and 1.2: the median is the 1.2 pass
    table = bench._table(
        rows(
            "resnet20",
            [([1.0, 1.0], [2.0, 1.0]), ([2.0, 2.0], [3.0, 1.0]), ([1.0, 4.0], [5.0, 1.0])],
        )
    )
    c = cells(table, "resnet20")
    assert c[1] == "2"  # runs per pass
    assert (c[2], c[3], c[4]) == ("5.00", "6.00", "1.20")  # the median pass's sums and ratio
    assert c[5] == "1.00-1.50 (3)"
    assert (c[6], c[7], c[8]) == ("10.00", "12.00", "1.20")  # its CPU sums
    assert c[9] == "5.00 / 1.00"  # Keras' first run and the mean of its later runs


def test_one_pass_and_an_even_count_of_passes():
    one = cells(bench._table(rows("mlp", [([1.0], [1.3])])), "mlp")
    assert (one[4], one[5]) == ("1.30", "1.30 (1)")
    # two passes: the lower of the two middle ones, so the table never rounds a pass up
    two = cells(bench._table(rows("mlp", [([1.0], [1.4]), ([1.0], [1.1])])), "mlp")
    assert (two[4], two[5]) == ("1.10", "1.10-1.40 (2)")


def test_families_keep_their_own_passes():
    table = bench._table(rows("mlp", [([1.0], [1.0])]) + rows("convnet", [([1.0], [2.0])]))
    assert cells(table, "mlp")[4] == "1.00" and cells(table, "convnet")[4] == "2.00"


def test_bad_arguments_are_refused(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--repeat", "0"])
    with pytest.raises(SystemExit):
        bench.main(["--families", "resnet20,vgg"])
    assert "unknown family" in capsys.readouterr().err
