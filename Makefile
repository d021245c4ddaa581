# The two commands of the README:
#   make lab    set everything up and open the notebooks in JupyterLab
#   make test   set everything up and run the whole test suite (what CI runs)
SHELL := /bin/bash
VENV := .venv/bin
TCMALLOC := $(firstword $(wildcard /usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 /usr/lib/aarch64-linux-gnu/libtcmalloc_minimal.so.4))
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)
PORT ?= 8888

.PHONY: setup lab app test lint bench

setup:
	@scripts/system-deps.sh
	@scripts/setup.sh

lab: setup
	LD_PRELOAD=$(TCMALLOC) $(VENV)/jupyter lab notebooks/ --ServerApp.ip=127.0.0.1 --port=$(PORT) $(ROOT_FLAG)

# A notebook as a code-free app (Voilà, code hidden): make app NB=01_kernel_explorer
# For a class on the same network: make app NB=01_kernel_explorer HOST=0.0.0.0 (prints the URL
# to share, with a fresh token). Default: this machine only (127.0.0.1).
# POOL=4: Voila keeps 4 kernels that already ran the notebook, so students' pages open sooner.
HOST ?= 127.0.0.1
POOL ?= 0
app: setup
	LD_PRELOAD=$(TCMALLOC) PYTHON=$(CURDIR)/$(VENV)/python HOST=$(HOST) POOL=$(POOL) scripts/app.sh $(NB)

lint:
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .

test:
	@scripts/system-deps.sh --browser
	@scripts/setup.sh
	$(MAKE) --no-print-directory lint
	LD_PRELOAD=$(TCMALLOC) $(VENV)/python -m pytest -n 2 --dist loadscope

bench: setup
	LD_PRELOAD=$(TCMALLOC) $(VENV)/python benchmarks/layer_speed.py --quick
