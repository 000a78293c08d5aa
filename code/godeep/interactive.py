"""Interactive explorations: sliders and drop-downs in a live notebook, a static figure elsewhere.

    from godeep.interactive import explore

    def show(depth=50, gain=1.0, init="kaiming"):
        ...draw one matplotlib figure...
        plt.show()

    explore(show, depth=(5, 100, 5), gain=(0.5, 2.5, 0.1), init=["xavier", "kaiming"])

Each control follows the abbreviations of :func:`ipywidgets.interact`: ``(min, max)`` or
``(min, max, step)`` makes a slider (integer if all three are ints), a list of values (or of
``(label, value)`` pairs, or a dict) makes a drop-down, a bool a checkbox, a string a text box,
and a ready-made widget is used as it is. The controls start at ``fn``'s keyword defaults,
which must therefore exist and lie inside the controls' ranges.

In a live Jupyter kernel, :func:`explore` displays the controls with the figure below them,
redrawn into an ``Output`` area whenever a control is released. Everywhere else (when the
environment variable ``GODEEP_INTERACTIVE`` is ``0``, as ``make test``, ``make notebooks`` and
``tools/nb.py`` set it, when ipywidgets is not installed, or outside a Jupyter kernel) it calls
``fn()`` once with its defaults: the stored output, the book and nbval see one static figure
and no widget state.
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

__all__ = ["explore", "interactive_enabled", "make_widget", "static_call"]


def _in_kernel() -> bool:
    """True inside a running IPython kernel (Jupyter), where widgets can be displayed."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with every notebook set-up
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def interactive_enabled() -> bool:
    """Widgets are shown unless ``GODEEP_INTERACTIVE=0``, ipywidgets is missing, or no kernel runs."""
    if os.environ.get("GODEEP_INTERACTIVE", "1") == "0":
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return _in_kernel()


def _defaults(fn: Callable[..., Any]) -> dict[str, Any]:
    """``fn``'s keyword defaults, by parameter name."""
    return {
        name: p.default
        for name, p in inspect.signature(fn).parameters.items()
        if p.default is not inspect.Parameter.empty
    }


def _option_values(options: Any) -> list[Any]:
    """The values a drop-down abbreviation can take (list, (label, value) pairs, or dict)."""
    if isinstance(options, Mapping):
        return list(options.values())
    values = []
    for item in options:
        is_pair = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        values.append(item[1] if is_pair else item)
    return values


def _check_control(fn_name: str, name: str, spec: Any, default: Any) -> None:
    """Raise a clear ValueError when ``default`` is not a state the control ``spec`` can reach."""
    try:
        from ipywidgets import ValueWidget
    except ImportError:  # without ipywidgets, a widget instance cannot be passed anyway
        ValueWidget = ()  # type: ignore[assignment]
    if ValueWidget and isinstance(spec, ValueWidget):
        return
    if (
        isinstance(spec, tuple)
        and 2 <= len(spec) <= 3
        and all(isinstance(v, Real) and not isinstance(v, bool) for v in spec)
    ):
        low, high = spec[0], spec[1]
        if not low < high:
            raise ValueError(f"explore({fn_name}): control {name}={spec!r} needs min < max")
        if len(spec) == 3 and not spec[2] > 0:
            raise ValueError(f"explore({fn_name}): control {name}={spec!r} needs a positive step")
        if not (isinstance(default, Real) and low <= default <= high):
            raise ValueError(
                f"explore({fn_name}): default {name}={default!r} lies outside the slider range {spec!r}"
            )
        return
    if isinstance(spec, (bool, str)):
        return
    if isinstance(spec, (list, tuple, Mapping)):
        values = _option_values(spec)
        if not values:
            raise ValueError(f"explore({fn_name}): control {name} has no options")
        if default not in values:
            raise ValueError(
                f"explore({fn_name}): default {name}={default!r} is not one of the options {values!r}"
            )
        return
    raise ValueError(
        f"explore({fn_name}): cannot make a control from {name}={spec!r}; use (min, max[, step]), "
        "a list of options, a bool, a string or an ipywidgets widget"
    )


def _check(fn: Callable[..., Any], controls: Mapping[str, Any]) -> dict[str, Any]:
    """Validate ``controls`` against ``fn``'s signature; return ``fn``'s keyword defaults."""
    if not callable(fn):
        raise TypeError(f"explore: fn must be callable, got {type(fn).__name__}")
    fn_name = getattr(fn, "__name__", repr(fn))
    params = inspect.signature(fn).parameters
    defaults = _defaults(fn)
    required = [
        n
        for n, p in params.items()
        if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    ]
    if required:
        raise ValueError(
            f"explore({fn_name}): every parameter needs a default (the static figure uses them); "
            f"missing for {required}"
        )
    if not controls:
        raise ValueError(f"explore({fn_name}): give at least one control, e.g. depth=(5, 100, 5)")
    for name, spec in controls.items():
        if name not in params:
            raise ValueError(
                f"explore({fn_name}): {fn_name} has no parameter {name!r} (has {list(params)})"
            )
        _check_control(fn_name, name, spec, defaults[name])
    return defaults


def static_call(fn: Callable[..., Any], **controls: Any) -> Any:
    """Check the controls, then call ``fn()`` once with its defaults (what the book shows)."""
    _check(fn, controls)
    return fn()


def make_widget(fn: Callable[..., Any], **controls: Any):
    """The ipywidgets ``interactive`` box for ``fn``: controls at ``fn``'s defaults, one Output.

    Sliders update on release (``continuous_update=False``), so a slow figure is not redrawn
    for every pixel the mouse moves; float sliders show as many decimals as their step.
    """
    import ipywidgets

    defaults = _check(fn, controls)
    widgets = {}
    for name, spec in controls.items():
        widget = ipywidgets.interactive.widget_from_abbrev(spec, defaults[name])
        if widget is None:  # pragma: no cover - _check rejects what ipywidgets cannot handle
            raise ValueError(f"explore: cannot make a control from {name}={spec!r}")
        if hasattr(widget, "continuous_update"):
            widget.continuous_update = False
        step = getattr(widget, "step", None)
        if (
            isinstance(widget, ipywidgets.FloatSlider) and step
        ):  # show as many decimals as the step has
            widget.readout_format = f".{max(0, -math.floor(math.log10(step) + 1e-9))}f"
        widget.description = name
        widgets[name] = widget
    for name, value in defaults.items():  # parameters without a control keep their default
        widgets.setdefault(name, ipywidgets.fixed(value))
    return ipywidgets.interactive(fn, **widgets)


def explore(fn: Callable[..., Any], **controls: Any) -> None:
    """Show ``fn``'s figure with controls in a live notebook, or one static figure elsewhere.

    ``fn(**kwargs)`` draws one matplotlib figure and ends with ``plt.show()``; ``controls``
    maps some of its parameters to ``ipywidgets.interact`` abbreviations. Returns nothing, so
    a cell ending in ``explore(...)`` stores no extra output.
    """
    if not interactive_enabled():
        static_call(fn, **controls)
        return None
    from IPython.display import display

    display(make_widget(fn, **controls))
    return None
