#!/usr/bin/env bash
# Pins the Python base image by digest: resolves TAG (default: the tag pinned now) to the digest
# the registry serves for it and rewrites base/Dockerfile's PYTHON_IMAGE, dashboard/Dockerfile's
# and the same image in cloudbuild.yaml (its first step runs on it). Needs docker (docker pull,
# docker inspect).
#
#   deploy/update-python-image.sh [TAG]        e.g. python:3.11-slim-bookworm
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="${PYTHON_IMAGE_DOCKERFILE:-${ROOT}/base/Dockerfile}"
CLOUDBUILD="${PYTHON_IMAGE_CLOUDBUILD:-${ROOT}/cloudbuild.yaml}"
DASHBOARD="${PYTHON_IMAGE_DASHBOARD:-${ROOT}/dashboard/Dockerfile}"

die() {
    echo "update-python-image.sh: error: $*" >&2
    exit 2
}

main() {
    local current tag reference digest
    current="$(sed -n -E 's/^ARG PYTHON_IMAGE=(.*)$/\1/p' "${DOCKERFILE}")"
    [[ -n "${current}" ]] || die "${DOCKERFILE} has no ARG PYTHON_IMAGE line"
    tag="${1:-${current%@*}}"
    [[ "${tag}" =~ ^python:[0-9]+\.[0-9]+-slim-[a-z]+$ ]] ||
        die "'${tag}' is not a tag like python:3.11-slim-bookworm"
    command -v docker >/dev/null || die "docker is needed to resolve the digest"
    docker pull --quiet "${tag}" >/dev/null || die "could not pull ${tag}"
    reference="$(docker inspect --format '{{index .RepoDigests 0}}' "${tag}")"
    digest="${reference##*@}"
    [[ "${digest}" =~ ^sha256:[0-9a-f]{64}$ ]] || die "no digest for ${tag} (got '${reference}')"
    sed -i -E "s|^ARG PYTHON_IMAGE=.*$|ARG PYTHON_IMAGE=${tag}@${digest}|" "${DOCKERFILE}" "${DASHBOARD}"
    sed -i -E "s|python:[0-9.]+-slim-[a-z]+@sha256:[0-9a-f]{64}|${tag}@${digest}|g" "${CLOUDBUILD}"
    echo "pinned ${tag}@${digest} in ${DOCKERFILE#"${ROOT}/"}, ${DASHBOARD#"${ROOT}/"} and" \
        "${CLOUDBUILD#"${ROOT}/"}"
}

main "$@"
