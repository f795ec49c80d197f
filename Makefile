# Every target bootstraps .venv itself when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make up` writes its env file and logs: `make up DEVSTACK=/tmp/stack2` runs a second one.
DEVSTACK ?= .devstack

.PHONY: demo test up bench conformance lint format clean

$(STAMP): pyproject.toml
	@$(PYTHON) deploy/bootstrap.py $(VENV)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m deploy demo

up: $(STAMP)
	$(BIN)/python -m deploy up --state-dir $(DEVSTACK)

test: $(STAMP) lint
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python -m bench

# ib_async calls checked for IB's shapes and codes, against a fresh simulator; against a
# gateway: `make conformance GATEWAY="--port 4002 --no-fills"`.
conformance: $(STAMP)
	$(BIN)/python -m simulator.conformance $(or $(GATEWAY),--simulator)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	bash deploy/lint.sh

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .devstack .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
