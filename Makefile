# Going Deep: every command sets itself up (creates .venv and installs requirements.txt).
# `make test` and `make book` are the two commands a newcomer needs; see README.md.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOKS := chapters
# Progress bars and widgets off (explore() draws one static figure), TensorFlow quiet: stored outputs and CI logs stay clean.
export GODEEP_PROGRESS := 0
export GODEEP_INTERACTIVE := 0
export TF_CPP_MIN_LOG_LEVEL := 2
export TF_ENABLE_ONEDNN_OPTS := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help setup test lint unit nbval rounding book book-check browser screenshots lab notebooks check-notebooks profile binder-check bench clean

# NB: the notebooks the notebook targets work on (nbval, notebooks, check-notebooks, profile,
# lab): a notebook, a folder or a shell pattern, e.g.
# A split source notebook (metadata godeep.split, see CONTRIBUTING.md) stands for its two derived
# notebooks NAME.pytorch.ipynb / NAME.tensorflow.ipynb: `notebooks` executes each on its own kernel
# (the other framework unimportable) and merges their outputs into the source; `nbval` and `test`
# run the derived notebooks only (the root conftest.py), `profile` gives one row per framework.
#   make nbval NB=chapters/03-normalization/05-batch-size.ipynb
#   make profile NB='chapters/03-normalization/0[45]-*.ipynb'
NB ?= $(NOTEBOOKS)
# JOBS: notebooks `make profile` runs at a time (each kernel computes on one thread)
JOBS ?= 1
# TESTS: the test files or folders of `make unit`; K: a pytest -k expression to select by name
TESTS ?= tests
K ?=

help:
	@echo "make test         set up, then ruff (format check, lint), tools/nb.py check and every test (unit, strict nbval over $(NOTEBOOKS)/, the book build)"
	@echo "make lint         format and lint-fix the Python code in place (ruff check --fix, ruff format; ruff.toml)"
	@echo "make unit         the tests in tests/ only (TESTS=tests/test_init.py K=expression to select)"
	@echo "make nbval        strict nbval: re-run notebooks (a split one: each framework's alone), compare with stored outputs (NB=path or pattern)"
	@echo "make rounding     the notebooks' asserts under other rounding (other CPU kernels), numbers masked (NB=path or pattern)"
	@echo "make check-notebooks  list notebooks to re-execute or fix (NB=path or pattern)"
	@echo "make book         set up, then build the HTML book into _build/html"
	@echo "make book-check   build the book with warnings as errors and test its pages (tests/test_book.py)"
	@echo "make browser      build the book and test it in headless Chromium (tests/test_browser.py; K=expression to select)"
	@echo "make screenshots  build the book; light and dark screenshots to _build/screenshots/"
	@echo "make lab          JupyterLab on the notebooks (widgets and progress bars on)"
	@echo "make notebooks    re-execute and normalize notebooks in place; split ones per framework, then merged (NB=path or pattern)"
	@echo "make profile      execute notebooks; wall time, CPU time and peak memory per framework to _build/profile.md (NB=..., JOBS=2: two at a time)"
	@echo "make binder-check  prove binder/ builds a working environment (fresh venv, JupyterLab's REST API, a notebook by nbclient and strict nbval)"
	@echo "make bench        whole-run times, PyTorch and Keras side by side, median of REPEAT=3 passes (_build/bench.md); godeep.reproduce's overhead (_build/bench_reproduce.md)"
	@echo "make clean        remove _build/"
	@echo "make help         this list"

setup: $(STAMP)

$(STAMP): requirements.txt code/pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -m pip install --quiet -r requirements.txt 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import torch, tensorflow, godeep, nbval, jupyter_book"
	touch $(STAMP)

# Two pytest-xdist workers (WORKERS=0: a single process): every test file, and so every notebook's
# kernel, stays on one worker (the root conftest.py groups them, for any pytest command); each
# kernel runs on one thread.
WORKERS ?= 2
# nbval as `test`, `nbval` and `rounding` run it: stored outputs compared after the sanitizer
# (tests/nbval-sanitize.cfg), each notebook's kernel grouped on one of the WORKERS.
NBVAL_FLAGS = --nbval --nbval-current-env --nbval-sanitize-with tests/nbval-sanitize.cfg \
	--nbval-cell-timeout 600 -p no:cacheprovider -n $(WORKERS) --dist loadgroup

test: setup
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/python tools/nb.py check $(NOTEBOOKS)
	$(BIN)/python -m pytest tests $(NOTEBOOKS) $(NBVAL_FLAGS) -rs --durations=15

# ruff.toml says what is checked (the package, tests, tools, _ext; not the notebooks). Fixes
# first, then formatting, as ruff recommends: a fix (sorted imports) may need reformatting.
lint: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: setup
	$(BIN)/python -m pytest $(TESTS) $(if $(K),-k "$(K)") -p no:cacheprovider -rs

# A split source in NB stands for its two derived notebooks (nbval never runs a source).
nbval: setup
	$(BIN)/python -m pytest $$($(BIN)/python tools/nb.py nbval-paths $(NB)) $(NBVAL_FLAGS)

book: setup
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

# The build of tests/test_book.py: -W -n into a temporary folder, then its pages are checked.
book-check: setup
	$(BIN)/python -m pytest tests/test_book.py -p no:cacheprovider -rs

browser: setup
	$(BIN)/python -m pytest tests/test_book.py tests/test_browser.py $(if $(K),-k "$(K)") -p no:cacheprovider -rs

screenshots: book
	$(BIN)/python -m tools.screenshots _build/html _build/screenshots

# A reader's session: progress bars and explore() widgets on, whatever this Makefile exports.
# (--allow-root only where make runs as root, as in containers.)
lab: setup
	GODEEP_PROGRESS=1 GODEEP_INTERACTIVE=1 $(BIN)/jupyter lab $(NB) $(if $(filter 0,$(shell id -u)),--allow-root)

notebooks: setup
	mkdir -p _build
	$(BIN)/python tools/nb.py execute $(NB) --report _build/profile.md

check-notebooks: setup
	$(BIN)/python tools/nb.py check $(NB)

profile: setup
	mkdir -p _build
	$(BIN)/python tools/nb.py profile $(NB) --report _build/profile.md --jobs $(JOBS)

# One notebook (BINDER_NB) run in the Binder environment; needs python3.11 and a package source.
BINDER_NB ?= chapters/01-signal-propagation/01-chain-rule.ipynb
binder-check:
	BINDER_CHECK_OFFLINE_TORCH=1 bash tools/binder_check.sh $(BINDER_NB)

# The claims under other rounding: PyTorch's kernels one instruction set down (AVX2 where the CPU
# has AVX-512, unvectorized where it has not), oneDNN's and MKL's at AVX2, TensorFlow on its
# oneDNN kernels instead of Eigen's, and nbval with every number masked, so each cell's asserts
# and words are what is checked (CONTRIBUTING.md, "Outputs belong to a kind of CPU"). NB as for nbval.
ROUNDING_ISA = $(shell grep -qw avx512f /proc/cpuinfo 2>/dev/null && echo avx2 || echo default)
rounding: setup
	ATEN_CPU_CAPABILITY=$(ROUNDING_ISA) ONEDNN_MAX_CPU_ISA=AVX2 MKL_CBWR=AVX2 TF_ENABLE_ONEDNN_OPTS=1 \
	GODEEP_NBVAL_MASK=1 $(BIN)/python -m pytest $$($(BIN)/python tools/nb.py nbval-paths $(NB)) \
		$(NBVAL_FLAGS) -rf

# Both frameworks in one process per experiment family, runs interleaved (tools/bench.py);
# REPEAT passes, each in a fresh process, the table giving the median (about 8 minutes a pass).
REPEAT ?= 3
bench: setup
	mkdir -p _build
	PYTHONPATH=$(CURDIR)/code $(BIN)/python tools/bench.py --repeat $(REPEAT) --report _build/bench.md
	PYTHONPATH=$(CURDIR)/code $(BIN)/python tools/bench_reproduce.py --report _build/bench_reproduce.md

clean:
	rm -rf _build
