#!/usr/bin/env bash
# Installs IB Gateway from IB's standalone (offline) installer, in the base image's build stage.
#
# Environment (the Dockerfile's build args):
#   IB_GATEWAY_URL     the installer to download
#   IB_GATEWAY_SHA256  optional: the installer's SHA-256, verified when given
#   IB_GATEWAY_MAJOR   optional: the major version (e.g. 1037) when it cannot be read from the install
#   IB_GATEWAY_HEAP    the Java heap of the gateway (-Xmx), e.g. 768m
#   TWS_PATH           the install root; the gateway lands in $TWS_PATH/ibgateway/<major>, where
#                      IBC's ibcstart.sh looks for it
#   IB_GATEWAY_VERSION_FILE  where the major version is recorded for the worker's `ibc` launcher
set -euo pipefail

: "${IB_GATEWAY_URL:?IB_GATEWAY_URL is required}"
: "${TWS_PATH:?TWS_PATH is required}"
: "${IB_GATEWAY_VERSION_FILE:?IB_GATEWAY_VERSION_FILE is required}"
IB_GATEWAY_SHA256="${IB_GATEWAY_SHA256:-}"
IB_GATEWAY_MAJOR="${IB_GATEWAY_MAJOR:-}"
IB_GATEWAY_HEAP="${IB_GATEWAY_HEAP:-768m}"
I4J_JRES="${I4J_JRES:-/usr/local/i4j_jres}"  # where install4j unpacks its Java runtime

STAGING="${TWS_PATH}/.staging"
INSTALLER=/tmp/ibgateway-installer.sh

say() { echo "[install-gateway] $*"; }
fail() {
    echo "[install-gateway] error: $*" >&2
    exit 1
}

download() {
    say "downloading ${IB_GATEWAY_URL}"
    curl --fail --silent --show-error --location --retry 3 --output "${INSTALLER}" "${IB_GATEWAY_URL}"
    if [[ -n "${IB_GATEWAY_SHA256}" ]]; then
        say "verifying SHA-256"
        echo "${IB_GATEWAY_SHA256}  ${INSTALLER}" | sha256sum --check --strict -
    else
        say "no IB_GATEWAY_SHA256 given: installer not verified ($(sha256sum "${INSTALLER}" | cut -d' ' -f1))"
    fi
}

install() {
    say "installing (unattended) into ${STAGING}"
    chmod +x "${INSTALLER}"
    "${INSTALLER}" -q -dir "${STAGING}"
    rm -f "${INSTALLER}"
    [[ -d "${STAGING}/jars" ]] || fail "no jars/ folder after the install"
}

# The major version, e.g. 1037 for 10.37.1l: from the build arg, else from install4j's parameters.
major_version() {
    local params="${STAGING}/.install4j/i4jparams.conf" version
    if [[ -n "${IB_GATEWAY_MAJOR}" ]]; then
        echo "${IB_GATEWAY_MAJOR}"
        return
    fi
    version="$(grep -oE 'majorVersion" value="[0-9]{3,4}"' "${params}" | grep -oE '[0-9]{3,4}' | head -n1 || true)"
    if [[ -z "${version}" ]]; then
        version="$(grep -oE 'applicationVersion="[0-9]+\.[0-9]+' "${params}" | head -n1 | grep -oE '[0-9]+\.[0-9]+' | tr -d . || true)"
    fi
    [[ "${version}" =~ ^[0-9]{3,4}$ ]] || fail "cannot tell the gateway's major version: set the build arg IB_GATEWAY_MAJOR"
    echo "${version}"
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
    download
    install
    local major
    major="$(major_version)"
    layout "${major}"
    relocate_java "${major}"
}

main "$@"
