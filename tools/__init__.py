"""The repository's tooling, importable from the repository root (pytest.ini: pythonpath = .).

* :mod:`tools.nb`: execute, normalize, check and profile notebooks (`python tools/nb.py ...`);
* :mod:`tools.website`: serve the built book on localhost and open it in Chromium;
* :mod:`tools.screenshots`: light and dark screenshots of the site (`python -m tools.screenshots`);
* `binder_check.sh`: prove that binder/ builds an environment that serves JupyterLab and runs a
  notebook with its stored outputs (pip, venv, jupyter, nbclient, nbval; `make binder-check`).
"""
