# Every target bootstraps .venv itself when it is missing or older than pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Where `make up` writes its env file and logs: `make up DEVSTACK=/tmp/stack2` runs a second one.
DEVSTACK ?= .devstack
# `make up WORKER_IMAGE=localhost/ib-worker:local` (and DASHBOARD_IMAGE) runs them in the images
# `make images` builds, `GATEWAY=container` the gateway in a container of its own (always on, the
# worker in external mode); variables given on make's command line reach the stack as they are.
# The fast lane: no emulator, no JVM, no image (tests/conftest.py FAST_LANE; cloudbuild.yaml).
FAST_LANE := not stack and not java and not image

.PHONY: demo test test-fast up bench conformance lint format clean images image-checks cloudbuild

$(STAMP): pyproject.toml
	@$(PYTHON) deploy/bootstrap.py $(VENV)
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m deploy demo

up: $(STAMP)
	$(BIN)/python -m deploy up --state-dir $(DEVSTACK)

test: $(STAMP) lint
	$(BIN)/python -m pytest -m "not image"

# On two workers (pytest-xdist): its tests need no shared stack, so they run side by side.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -n 2 -m "$(FAST_LANE)"

# The images, built here with buildah (installed from Debian's packages when missing).
images: $(STAMP)
	$(BIN)/python -m deploy images

# The images run as Cloud Run runs them (after `make images`).
image-checks: $(STAMP)
	$(BIN)/python -m pytest -m image

# cloudbuild.yaml's steps, in order, from the file itself (SUBSTITUTIONS=_TRADING_MODE=live,...).
cloudbuild: $(STAMP)
	$(BIN)/python -m deploy cloudbuild --substitutions "$(SUBSTITUTIONS)"

bench: $(STAMP)
	$(BIN)/python -m bench

# ib_async calls checked for IB's shapes and codes, against a fresh simulator; against a
# gateway: `make conformance CONFORMANCE="--port 4002 --no-fills"` (GATEWAY is `make up`'s).
conformance: $(STAMP)
	$(BIN)/python -m simulator.conformance $(or $(CONFORMANCE),--simulator)

# mypy: worker/ strictly, the other packages at mypy's default level (pyproject.toml [tool.mypy]).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy worker simulator publisher dashboard deploy bench
	bash deploy/lint.sh

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .devstack .pytest_cache .ruff_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
