"""Shared test set-up: quiet progress bars, deterministic seeds, TensorFlow loaded lazily."""

import os

os.environ.setdefault("GODEEP_PROGRESS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
