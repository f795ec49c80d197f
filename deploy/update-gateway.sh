#!/usr/bin/env bash
# Pins a new IB Gateway release in base/Dockerfile: downloads IB's standalone installer, computes
# its SHA-256 and rewrites IB_GATEWAY_VERSION, IB_GATEWAY_SHA256 and IB_GATEWAY_CHANNEL.
#
#   deploy/update-gateway.sh VERSION [--channel stable|latest] [--url URL]
#
# VERSION is the release IB's download page shows for the channel (e.g. 10.37.1l). IB serves only
# the channel's current release, so the next base image build checks both the SHA-256 and that the
# installer holds VERSION; commit base/Dockerfile and the changed base/ makes a new base image.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKERFILE="${GATEWAY_DOCKERFILE:-${ROOT}/base/Dockerfile}"
IB_DOWNLOADS=https://download2.interactivebrokers.com/installers/ibgateway
TMP_DIR=""

die() {
    echo "update-gateway.sh: error: $*" >&2
    exit 2
}

main() {
    local version="" channel=stable url="" arg
    while [[ $# -gt 0 ]]; do
        arg="$1"
        case "${arg}" in
        --channel | --url)
            [[ $# -ge 2 ]] || die "${arg} needs a value"
            if [[ "${arg}" == --channel ]]; then channel="$2"; else url="$2"; fi
            shift
            ;;
        -h | --help)
            sed -n '2,9p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*) die "unknown option ${arg}" ;;
        *)
            [[ -z "${version}" ]] || die "one VERSION only"
            version="${arg}"
            ;;
        esac
        shift
    done
    [[ "${version}" =~ ^[0-9]{2}\.[0-9]{1,2}\.[0-9]+[a-z]?$ ]] ||
        die "give the release to pin, like 10.37.1l (IB's download page shows it)"
    [[ "${channel}" == stable || "${channel}" == latest ]] || die "--channel must be stable or latest"
    url="${url:-${IB_DOWNLOADS}/${channel}-standalone/ibgateway-${channel}-standalone-linux-x64.sh}"
    [[ -f "${DOCKERFILE}" ]] || die "${DOCKERFILE} not found"

    local digest
    TMP_DIR="$(mktemp -d)"
    trap 'rm -rf "${TMP_DIR}"' EXIT
    echo "downloading ${url}"
    curl --fail --silent --show-error --location --retry 3 --output "${TMP_DIR}/installer.sh" "${url}" ||
        die "could not download ${url}"
    digest="$(sha256sum "${TMP_DIR}/installer.sh" | cut -d' ' -f1)"
    sed -i -E \
        -e "s|^ARG IB_GATEWAY_VERSION=.*$|ARG IB_GATEWAY_VERSION=${version}|" \
        -e "s|^ARG IB_GATEWAY_SHA256=.*$|ARG IB_GATEWAY_SHA256=${digest}|" \
        -e "s|^ARG IB_GATEWAY_CHANNEL=.*$|ARG IB_GATEWAY_CHANNEL=${channel}|" \
        "${DOCKERFILE}"
    grep -qx "ARG IB_GATEWAY_SHA256=${digest}" "${DOCKERFILE}" ||
        die "${DOCKERFILE} has no ARG IB_GATEWAY_SHA256 line to rewrite"
    echo "pinned IB Gateway ${version} (${channel}) in ${DOCKERFILE#"${ROOT}/"}: sha256 ${digest}"
    echo "next: commit it; the next base image build verifies the download and the version"
}

main "$@"
