#!/usr/bin/env bash
# One-time, idempotent set-up (or --teardown) of a Google Cloud project for the IB worker
# (docs/deployment.md, "Deploying to Google Cloud"). A thin wrapper: the set-up is the Python module
# deploy/cloud (`python -m deploy.cloud --help`), with the gcloud CLI as its executor.
#
#   deploy/setup.sh --project P --region R [--mode paper|live] [--delivery push|eventarc]
#                   [--alert-email ADDRESS] [--gateway per-intent|always-on] [--dry-run]
#   deploy/setup.sh --project P --region R [--mode paper|live] --teardown [--yes] [--dry-run]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${SETUP_PYTHON:-${ROOT}/.venv/bin/python}"

if [[ ! -x "${PYTHON}" ]]; then
    echo "setup.sh: error: ${PYTHON} not found: run 'make test' (or 'make up') once to create .venv" >&2
    exit 2
fi
cd "${ROOT}"
exec "${PYTHON}" -m deploy.cloud "$@"
