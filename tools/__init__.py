"""The repository's tooling, importable from the repository root (pytest.ini: pythonpath = .).

* :mod:`tools.nb`: execute, normalize, check and profile notebooks (`python tools/nb.py ...`),
  with :mod:`tools.notebook_files` (read, write, normalize; the Colab cell),
  :mod:`tools.notebook_profile` (a kernel's CPU time and peak memory; the profile table) and
  :mod:`tools.frameworks` (split notebooks: one per framework, run alone, merged into the page);
* :mod:`tools.bench` and :mod:`tools.bench_reproduce`: whole-run times of both frameworks;
* :mod:`tools.deps`: binder's requirements derived from code/pyproject.toml, and their checks;
* :mod:`tools.website`: serve the built book on localhost and open it in Chromium;
* :mod:`tools.screenshots`: light and dark screenshots of the site (`python -m tools.screenshots`);
* `binder_check.sh`: prove that binder/ builds an environment that serves JupyterLab and runs a
  notebook with its stored outputs (pip, venv, jupyter, nbclient, nbval; `make binder-check`).
"""
