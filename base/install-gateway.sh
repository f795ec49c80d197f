#!/usr/bin/env bash
# Installs IB Gateway from IB's standalone (offline) installer, in the base image's build stage.
#
# Environment (the Dockerfile's build args):
#   IB_GATEWAY_URL      the installer to download
#   IB_GATEWAY_SHA256   the installer's SHA-256 (required: the download is always verified)
#   IB_GATEWAY_VERSION  the pinned release, e.g. 10.37.1l (required: the install must be it)
#   IB_GATEWAY_MAJOR    optional: the major version (e.g. 1037) when it is not the version's
#   IB_GATEWAY_HEAP     the Java heap of the gateway (-Xmx), e.g. 768m
#   TWS_PATH            the install root; the gateway lands in $TWS_PATH/ibgateway/<major>, where
#                       IBC's ibcstart.sh looks for it
#   IB_GATEWAY_VERSION_FILE  where the major version is recorded for the worker's `ibc` launcher
set -euo pipefail

: "${IB_GATEWAY_URL:?IB_GATEWAY_URL is required}"
: "${TWS_PATH:?TWS_PATH is required}"
: "${IB_GATEWAY_VERSION_FILE:?IB_GATEWAY_VERSION_FILE is required}"
IB_GATEWAY_SHA256="${IB_GATEWAY_SHA256:-}"
IB_GATEWAY_VERSION="${IB_GATEWAY_VERSION:-}"
IB_GATEWAY_MAJOR="${IB_GATEWAY_MAJOR:-}"
IB_GATEWAY_HEAP="${IB_GATEWAY_HEAP:-768m}"
I4J_JRES="${I4J_JRES:-/usr/local/i4j_jres}"  # where install4j unpacks its Java runtime

STAGING="${TWS_PATH}/.staging"
INSTALLER=/tmp/ibgateway-installer.sh
PIN_HINT="pin a release with deploy/update-gateway.sh VERSION (README.md, Updating IB Gateway)"

say() { echo "[install-gateway] $*"; }
fail() {
    echo "[install-gateway] error: $*" >&2
    exit 1
}

check_pin() {
    [[ "${IB_GATEWAY_VERSION}" =~ ^[0-9]{2}\.[0-9]{1,2}\.[0-9]+[a-z]?$ ]] ||
        fail "IB_GATEWAY_VERSION '${IB_GATEWAY_VERSION}' is not a release like 10.37.1l: ${PIN_HINT}"
    [[ "${IB_GATEWAY_SHA256}" =~ ^[0-9a-f]{64}$ ]] ||
        fail "IB_GATEWAY_SHA256 is not a SHA-256: ${PIN_HINT}"
}

download() {
    say "downloading ${IB_GATEWAY_URL}"
    curl --fail --silent --show-error --location --retry 3 --output "${INSTALLER}" "${IB_GATEWAY_URL}"
    local actual
    actual="$(sha256sum "${INSTALLER}" | cut -d' ' -f1)"
    if [[ "${actual}" != "${IB_GATEWAY_SHA256}" ]]; then
        rm -f "${INSTALLER}"
        fail "the installer's SHA-256 is ${actual}, not the pinned ${IB_GATEWAY_SHA256} of ${IB_GATEWAY_VERSION}: IB has probably moved the channel to a new release; ${PIN_HINT}"
    fi
    say "SHA-256 verified (${IB_GATEWAY_VERSION})"
}

install() {
    say "installing (unattended) into ${STAGING}"
    chmod +x "${INSTALLER}"
    "${INSTALLER}" -q -dir "${STAGING}"
    rm -f "${INSTALLER}"
    [[ -d "${STAGING}/jars" ]] || fail "no jars/ folder after the install"
}

# The version install4j recorded, e.g. 10.37.1l: it must be the pinned one.
check_installed_version() {
    local params="${STAGING}/.install4j/i4jparams.conf" installed
    installed="$(grep -oE 'applicationVersion="[^"]+"' "${params}" | head -n1 | cut -d'"' -f2 || true)"
    [[ "${installed}" == "${IB_GATEWAY_VERSION}" ]] ||
        fail "the installer holds IB Gateway '${installed}', not the pinned ${IB_GATEWAY_VERSION}"
}

# The major version, e.g. 1037 for 10.37.1l: from the build arg, else from the pinned version.
major_version() {
    if [[ -n "${IB_GATEWAY_MAJOR}" ]]; then
        [[ "${IB_GATEWAY_MAJOR}" =~ ^[0-9]{3,4}$ ]] || fail "IB_GATEWAY_MAJOR must be like 1037"
        echo "${IB_GATEWAY_MAJOR}"
        return
    fi
    local parts
    IFS=. read -ra parts <<<"${IB_GATEWAY_VERSION}"
    echo "${parts[0]}${parts[1]}"
}

layout() {
    local major="$1" program
    program="${TWS_PATH}/ibgateway/${major}"
    mkdir -p "${TWS_PATH}/ibgateway"
    mv "${STAGING}" "${program}"
    # The worker's launcher also accepts $TWS_PATH/<major>.
    ln -s "ibgateway/${major}" "${TWS_PATH}/${major}"
    echo "${major}" >"${IB_GATEWAY_VERSION_FILE}"
    sed -i -E "s/^-Xmx[0-9]+[kKmMgG]?$/-Xmx${IB_GATEWAY_HEAP}/" "${program}/ibgateway.vmoptions"
    grep -qx -- "-Xmx${IB_GATEWAY_HEAP}" "${program}/ibgateway.vmoptions" ||
        echo "-Xmx${IB_GATEWAY_HEAP}" >>"${program}/ibgateway.vmoptions"
    say "IB Gateway ${major} in ${program} (heap ${IB_GATEWAY_HEAP}), version in ${IB_GATEWAY_VERSION_FILE}"
}

# IB's installer unpacks its Java runtime under /usr/local/i4j_jres: move it next to the gateway
# ($TWS_PATH/jre, the base image's JAVA_PATH) and point install4j's record at it.
relocate_java() {
    local major="$1" java runtime
    java="$(find "${I4J_JRES}" "${TWS_PATH}" -type f -path '*/bin/java' 2>/dev/null | head -n1 || true)"
    [[ -n "${java}" ]] || fail "no Java runtime found after the install"
    runtime="$(dirname "$(dirname "${java}")")"
    if [[ "${runtime}" != "${TWS_PATH}/jre" ]]; then
        mv "${runtime}" "${TWS_PATH}/jre"
    fi
    echo "${TWS_PATH}/jre" >"${TWS_PATH}/ibgateway/${major}/.install4j/inst_jre.cfg"
    rm -rf "${I4J_JRES}"
    "${TWS_PATH}/jre/bin/java" -version
}

main() {
    check_pin
    download
    install
    check_installed_version
    local major
    major="$(major_version)"
    layout "${major}"
    relocate_java "${major}"
}

main "$@"
