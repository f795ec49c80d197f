#!/usr/bin/env bash
# Lints the deployment artifacts with the tools installed in the venv (no downloads):
#   hadolint on base/, worker/ and dashboard/Dockerfile (.hadolint.yaml),
#   ShellCheck on every *.sh in the repository (outside .venv, .devstack and build),
#   yamllint on cloudbuild.yaml (.yamllint).
# Exit status: non-zero when any of them reports a problem.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${LINT_BIN:-${ROOT}/.venv/bin}"
FAILED=()

tool() {
    local path="${BIN}/$1"
    if [[ ! -x "${path}" ]]; then
        echo "lint: ${path} not found: install the dev dependencies (make test bootstraps .venv)" >&2
        exit 2
    fi
    echo "${path}"
}

check() {
    local name="$1"
    shift
    echo "==> ${name}"
    if ! "$@"; then
        FAILED+=("${name}")
    fi
}

shell_scripts() {
    find "${ROOT}" \( -path "${ROOT}/.venv" -o -path "${ROOT}/.devstack" -o -path "${ROOT}/.git" \
        -o -path "${ROOT}/build" \) -prune \
        -o -type f -name '*.sh' -print | sort
}

main() {
    local hadolint shellcheck yamllint scripts=()
    hadolint="$(tool hadolint)"
    shellcheck="$(tool shellcheck)"
    yamllint="$(tool yamllint)"
    mapfile -t scripts < <(shell_scripts)

    cd "${ROOT}"
    local dockerfiles=() file
    for file in base/Dockerfile worker/Dockerfile dashboard/Dockerfile; do
        [[ -f "${file}" ]] && dockerfiles+=("${file}")
    done
    check "hadolint ${dockerfiles[*]}" \
        "${hadolint}" --config "${ROOT}/.hadolint.yaml" "${dockerfiles[@]}"
    check "shellcheck (${#scripts[@]} scripts)" "${shellcheck}" --external-sources "${scripts[@]}"
    check "yamllint cloudbuild.yaml" "${yamllint}" --strict --config-file "${ROOT}/.yamllint" cloudbuild.yaml

    if [[ ${#FAILED[@]} -gt 0 ]]; then
        echo "lint failed: ${FAILED[*]}" >&2
        exit 1
    fi
    echo "lint: all clean"
}

main "$@"
