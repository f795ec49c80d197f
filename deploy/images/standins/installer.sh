#!/bin/sh
# Stand-in for IB's offline IB Gateway installer (an install4j program), built by
# deploy/images/standins.py and served on 127.0.0.1 while the base image builds here, so that
# base/install-gateway.sh runs its real download, SHA-256 check, unattended install, version check,
# layout and Java relocation. It takes the options the worker's build uses (-q -dir DIR), unpacks
# the "gateway" (the project's simulator, under jars/) into DIR with install4j's version record,
# and its Java runtime under /usr/local/i4j_jres (or $I4J_JRES), as install4j does. The payload
# follows the marker line as base64 of a gzipped tar.
set -eu

dir=""
quiet=""
while [ "$#" -gt 0 ]; do
    case "$1" in
        -q) quiet=1 ;;
        -dir)
            [ "$#" -ge 2 ] || { echo "installer: -dir needs a folder" >&2; exit 2; }
            dir="$2"
            shift
            ;;
        *) echo "installer: unknown option $1 (the stand-in knows -q -dir DIR)" >&2; exit 2 ;;
    esac
    shift
done
if [ -z "${quiet}" ] || [ -z "${dir}" ]; then
    echo "installer: only the unattended install is simulated: -q -dir DIR" >&2
    exit 2
fi

jres="${I4J_JRES:-/usr/local/i4j_jres}"
line="$(awk '/^__PAYLOAD_BELOW__$/ { print NR + 1; exit }' "$0")"
mkdir -p "${dir}" "${jres}"
tail -n +"${line}" "$0" | base64 -d | tar -xzf - -C "${dir}"
rm -rf "${jres}/standin-jre"
mv "${dir}/.jre" "${jres}/standin-jre"
echo "installer: IB Gateway (stand-in) installed in ${dir}"
exit 0
# shellcheck disable=SC2317 # the payload's marker: never run
__PAYLOAD_BELOW__
