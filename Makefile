# The course's commands. Each sets up .venv on first use (and only then, or when pyproject.toml changes).
#
#   make lab         open JupyterLab on the course
#   make test        run every check (what CI runs)
#   make release     regenerate exercises/ from solutions/ with nbgrader
#   make autograde   grade everything under grading/submitted/
#   make feedback    write grading/feedback/
#   make grades      export grading/grades.csv
#   make bench       run benchmarks/ and rewrite benchmarks/RESULTS.md
#   make html        execute the lectures in full mode and render them to _build/html/
#
# Variables: PYTHON (the interpreter that creates .venv, default python3), TORCH_SPEC (default
# "torch>=2.2"), TORCH_CPU_INDEX (where CPU-only torch wheels come from), PYTEST_ARGS, TEST_WORKERS.

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.course-installed
TORCH_SPEC ?= torch>=2.2
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=
# pytest-xdist workers (one per core by default); module caches stay on one worker (--dist loadgroup)
TEST_WORKERS ?= auto
# Installed with --no-deps after the course (their own pins conflict with nbgrader's); one per word.
NODEPS_PACKAGES := torchattacks==3.5.1
PIP := $(VPY) -m pip --disable-pip-version-check
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: lab test release autograde feedback grades status bench html setup torch browser clean help

help:
	@sed -n '2,15p' Makefile | sed 's/^# \{0,1\}//'

setup: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null || { \
	  echo "error: this course needs Python 3.10 or newer; '$(PYTHON)' is $$($(PYTHON) -V 2>&1 || echo missing)."; \
	  echo "       Install one (e.g. apt-get install python3.11 python3.11-venv) and run: make $(MAKECMDGOALS) PYTHON=python3.11"; \
	  exit 1; }
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV) || { \
	  echo "error: could not create $(VENV). On Debian/Ubuntu: apt-get install python3-venv"; exit 1; }
	@$(MAKE) --no-print-directory torch
	@echo "== installing the course and its dependencies into $(VENV)"
	@$(PIP) install -q -e '.[test]' || { \
	  echo "error: installing the course's dependencies failed (see pip's message above)."; \
	  echo "       Offline? Run 'make setup' once with the network, or point pip at a wheel folder (PIP_FIND_LINKS=...)."; \
	  exit 1; }
	@if [ -n "$(strip $(NODEPS_PACKAGES))" ]; then $(PIP) install -q --no-deps $(NODEPS_PACKAGES) || exit 1; fi
	@touch $@
	@echo "== $(VENV) is ready: $$($(VPY) -c 'import torch, nbgrader; print("torch", torch.__version__, "| nbgrader", nbgrader.__version__)')"

# torch: keep an installed one; else the default (CUDA) build where an NVIDIA GPU is present, and a
# CPU-only build otherwise -- from PyTorch's CPU index, or failing that from a CPU wheel that pip
# already has locally (its find-links folders); never a pinned version.
torch:
	@if $(VPY) -c 'import torch' 2>/dev/null; then \
	  echo "== torch $$($(VPY) -c 'import torch; print(torch.__version__)') already installed"; \
	elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  echo "== NVIDIA GPU found: installing the default (CUDA) build of $(TORCH_SPEC)"; \
	  $(PIP) install -q "$(TORCH_SPEC)" || { echo "error: could not install $(TORCH_SPEC); check the network."; exit 1; }; \
	else \
	  echo "== no NVIDIA GPU: installing a CPU-only build of $(TORCH_SPEC)"; \
	  $(PIP) install -q --retries 1 --index-url "$(TORCH_CPU_INDEX)" "$(TORCH_SPEC)" 2>/dev/null \
	  || $(PIP) install -q --no-index --no-deps "$(TORCH_SPEC)" 2>/dev/null \
	  || { echo "error: no CPU build of torch could be installed: $(TORCH_CPU_INDEX) is out of reach and pip has"; \
	       echo "       no local torch wheel. Connect to the network and run make again, or download a wheel once"; \
	       echo "       (pip download torch --index-url $(TORCH_CPU_INDEX)) and set PIP_FIND_LINKS to its folder."; \
	       exit 1; }; \
	  $(VPY) -c 'import torch; print("== installed torch", torch.__version__)'; \
	fi

lab: $(STAMP)
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $$([ "$$(id -u)" = 0 ] && echo --allow-root) lectures/00_getting_started.ipynb

test: $(STAMP) browser
	$(VPY) -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The browser tests drive Debian's Chromium: installed here where we can (as root, with apt-get);
# elsewhere they are skipped and pytest says why.
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "== installing Debian's chromium for the browser tests"; \
	    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; } \
	      || echo "note: could not install chromium; the browser tests will be skipped"; \
	  else \
	    echo "note: /usr/bin/chromium is missing, so the browser tests will be skipped (apt-get install chromium)"; \
	  fi; \
	fi

release: $(STAMP)
	$(VPY) -m reference_impl.course release

autograde: $(STAMP)
	$(VPY) -m reference_impl.course autograde

feedback: $(STAMP)
	$(VPY) -m reference_impl.course feedback

grades: $(STAMP)
	$(VPY) -m reference_impl.course grades

status: $(STAMP)
	$(VPY) -m reference_impl.course status

html: $(STAMP)
	$(VPY) -m reference_impl.course html

bench: $(STAMP)
	$(VPY) benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache artifacts _build
