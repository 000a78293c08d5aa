"""godeep.interactive.explore: widgets in a live kernel, one static figure everywhere else."""

import os
import sys

import nbformat
import pytest
from nbclient import NotebookClient

from godeep import interactive
from godeep.interactive import explore, interactive_enabled, make_widget

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def recorder():
    calls = []

    def show(depth=50, gain=1.0, init="kaiming", log=True):
        calls.append(dict(depth=depth, gain=gain, init=init, log=log))

    return show, calls


CONTROLS = dict(depth=(5, 100, 5), gain=(0.5, 2.5, 0.1), init=["xavier", "kaiming"], log=True)


def test_static_mode_calls_fn_once_with_its_defaults(monkeypatch):
    monkeypatch.setenv("GODEEP_INTERACTIVE", "0")
    show, calls = recorder()
    assert not interactive_enabled()
    assert explore(show, **CONTROLS) is None
    assert calls == [dict(depth=50, gain=1.0, init="kaiming", log=True)]


def test_outside_a_kernel_explore_is_static_even_when_enabled(monkeypatch):
    monkeypatch.setenv("GODEEP_INTERACTIVE", "1")
    assert not interactive_enabled()  # pytest runs no Jupyter kernel
    show, calls = recorder()
    explore(show, depth=(5, 100, 5))
    assert len(calls) == 1


def test_without_ipywidgets_explore_is_static(monkeypatch):
    monkeypatch.setenv("GODEEP_INTERACTIVE", "1")
    monkeypatch.setattr(interactive, "_in_kernel", lambda: True)
    assert interactive_enabled()
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    assert not interactive_enabled()
    show, calls = recorder()
    explore(show, depth=(5, 100, 5))
    assert calls == [dict(depth=50, gain=1.0, init="kaiming", log=True)]


def test_widgets_start_at_the_defaults_and_redraw_on_change():
    show, calls = recorder()
    box = make_widget(show, **CONTROLS)
    controls = {w.description: w for w in box.children[:-1]}
    assert type(box.children[-1]).__name__ == "Output"
    assert {k: type(w).__name__ for k, w in controls.items()} == {
        "depth": "IntSlider",
        "gain": "FloatSlider",
        "init": "Dropdown",
        "log": "Checkbox",
    }
    assert (controls["depth"].min, controls["depth"].max, controls["depth"].step) == (5, 100, 5)
    assert {k: w.value for k, w in controls.items()} == dict(
        depth=50, gain=1.0, init="kaiming", log=True
    )
    assert all(not w.continuous_update for k, w in controls.items() if k in ("depth", "gain"))
    assert controls["gain"].readout_format == ".1f"
    assert calls[-1] == dict(
        depth=50, gain=1.0, init="kaiming", log=True
    )  # drawn once at the defaults
    only_gain = make_widget(show, gain=(0.5, 2.5, 0.002))
    assert [type(w).__name__ for w in only_gain.children] == [
        "FloatSlider",
        "Output",
    ]  # others fixed
    assert only_gain.children[0].readout_format == ".3f"
    only_gain.children[0].value = 2.0
    assert calls[-1] == dict(depth=50, gain=2.0, init="kaiming", log=True)
    controls["init"].value = "xavier"
    controls["depth"].value = 80
    assert calls[-1] == dict(depth=80, gain=1.0, init="xavier", log=True)


@pytest.mark.parametrize(
    "controls, message",
    [
        (dict(width=(1, 3)), "has no parameter 'width'"),
        (dict(depth=(60, 100)), "outside the slider range"),
        (dict(depth=(100, 5)), "min < max"),
        (dict(init=["xavier", "lecun"]), "not one of the options"),
        (dict(depth=object()), "cannot make a control"),
        ({}, "at least one control"),
    ],
)
def test_bad_controls_give_clear_errors(monkeypatch, controls, message):
    monkeypatch.setenv("GODEEP_INTERACTIVE", "0")
    show, calls = recorder()
    with pytest.raises(ValueError, match=message):
        explore(show, **controls)
    with pytest.raises(ValueError, match=message):
        make_widget(show, **controls)
    assert calls == []


def test_parameters_without_defaults_are_rejected():
    def show(depth, gain=1.0):
        pass

    with pytest.raises(ValueError, match=r"missing for \['depth'\]"):
        explore(show, gain=(0.5, 2.0))


def test_dropdown_of_label_value_pairs_accepts_a_default_value(monkeypatch):
    monkeypatch.setenv("GODEEP_INTERACTIVE", "0")
    show, calls = recorder()
    explore(show, init=[("Xavier", "xavier"), ("Kaiming", "kaiming")])
    assert calls[0]["init"] == "kaiming"


NOTEBOOK_SOURCE = """\
import matplotlib.pyplot as plt
from godeep.interactive import explore

def show(depth=10, gain=1.0):
    plt.plot(range(depth), [gain] * depth)
    plt.show()

explore(show, depth=(2, 20, 2), gain=(0.5, 2.0, 0.1))
"""


def run_in_kernel(interactive_flag: str):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(NOTEBOOK_SOURCE)])
    env = dict(os.environ, GODEEP_INTERACTIVE=interactive_flag)
    env.pop("MPLBACKEND", None)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute(env=env)
    return nb.cells[0].outputs


@pytest.mark.parametrize("flag", ["0", "1"])
def test_in_a_real_kernel(flag):
    """GODEEP_INTERACTIVE=0 (CI, stored outputs): one PNG, no widget. =1 (JupyterLab): a widget."""
    outputs = run_in_kernel(flag)
    mimes = [set(o.get("data", {})) for o in outputs]
    widget = [m for m in mimes if WIDGET_MIME in m]
    pngs = [m for m in mimes if "image/png" in m]
    if flag == "0":
        assert widget == [] and len(pngs) == 1, mimes
    else:
        assert len(widget) == 1 and pngs == [], mimes
