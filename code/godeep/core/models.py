"""Names and checks shared by both frameworks' MLP and ConvNet builders (framework-free)."""

from __future__ import annotations

from .. import validate

__all__ = [
    "ACTIVATIONS",
    "NORMS",
    "check_architecture",
    "check_convnet",
    "check_dtype",
    "check_norm",
]

#: Activation names understood by both frameworks' builders.
ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu")

#: Normalization layers understood by both frameworks' builders (:mod:`godeep.norms`).
NORMS = ("batch", "ghost", "layer", "group", "instance")


def check_architecture(
    in_features: int, width: int, depth: int, out_features: int, activation: str
) -> None:
    """Validate the arguments shared by the MLP builders of both frameworks."""
    for name, value, low in (
        ("in_features", in_features, 1),
        ("width", width, 1),
        ("depth", depth, 0),
        ("out_features", out_features, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        if value < low:
            raise ValueError(f"{name} must be >= {low}, got {value}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")


def check_convnet(
    in_channels: int, image_size: int, classes: int, channels: tuple, hidden: int
) -> None:
    """Validate the sizes shared by both frameworks' :func:`convnet`."""
    for name, value in (("in_channels", in_channels), ("classes", classes), ("hidden", hidden)):
        validate.positive_int(name, value)
    validate.integer("image_size", image_size, low=6)
    if isinstance(channels, (str, bytes)) or not hasattr(channels, "__len__") or len(channels) != 2:
        raise ValueError(f"channels must be two sizes, got {channels!r}")
    validate.positive_ints("channels", channels)


def check_dtype(dtype: str) -> None:
    """The builders of both frameworks take ``dtype="float32"`` or ``"float64"``."""
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")


def check_norm(
    norm: str | None, norm_position: str = "before", norm_kwargs: dict | None = None
) -> None:
    """Validate the ``norm`` arguments shared by the builders of both frameworks."""
    if norm_kwargs:
        unknown = set(norm_kwargs) - {"groups", "virtual_batch_size"}
        if unknown:
            raise TypeError(f"unexpected keyword argument(s) {sorted(unknown)}")
        if norm is None:
            raise TypeError(
                f"{sorted(norm_kwargs)} configure a normalization layer: pass norm= too"
            )
    if norm is not None and norm not in NORMS:
        raise ValueError(f"norm must be None or one of {NORMS}, got {norm!r}")
    if norm_position not in ("before", "after"):
        raise ValueError(
            f"norm_position must be 'before' or 'after' (the activation), got {norm_position!r}"
        )
