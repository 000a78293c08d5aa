"""Metrics as JSON Lines and atomic checkpoint files (framework-neutral)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["MetricsWriter", "read_metrics", "atomic_save", "METRICS_FILE", "FIELDS"]

METRICS_FILE = "metrics.jsonl"
#: the fields of every line (``test_err`` is null between evaluations; runs also log
#: ``epoch``, ``cpu_s`` (CPU seconds of this process in the window) and ``val_err``)
FIELDS = ("step", "loss", "lr", "train_err", "test_err", "images_per_s")


class MetricsWriter:
    """Appends one JSON object per line to ``out/metrics.jsonl``.

    ``resume_step``: lines of a previous run with ``step > resume_step`` (logged after the
    checkpoint the run resumes from) are dropped, so the file reads as one uninterrupted run.
    """

    def __init__(self, out: str | os.PathLike[str], resume_step: int | None = None):
        self.path = Path(out) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is None:
            self.path.write_text("")
        elif self.path.exists():
            keep = [r for r in read_metrics(self.path) if r["step"] <= resume_step]
            self.path.write_text("".join(json.dumps(r) + "\n" for r in keep))

    def write(self, record: dict[str, Any]) -> None:
        missing = [k for k in FIELDS if k not in record]
        if missing:
            raise ValueError(f"metrics record lacks {missing}")
        clean = {
            k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(clean) + "\n")


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a metrics.jsonl file (or of ``path/metrics.jsonl`` for a folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no metrics file at {path}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def atomic_save(save: Callable[[str], None], path: str | os.PathLike[str]) -> None:
    """Write with ``save(tmp_path)`` then rename over ``path``: a crash mid-write leaves the
    previous checkpoint intact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    save(str(tmp))
    os.replace(tmp, path)
