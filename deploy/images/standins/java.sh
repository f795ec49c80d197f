#!/usr/bin/env bash
# Stand-in for the Java runtime that IB's installer ships (installed as jre/bin/java by the
# stand-in installer). `java -version` answers; `java [options] -cp CLASSPATH
# ibcalpha.ibc.IbcGateway INI MODE`, which is how IBC's ibcstart.sh starts IB Gateway, logs in
# with the credentials of IBC's config.ini and runs the project's simulator (in the classpath's
# first folder, where the gateway's jars would be) on the API port the config.ini names.
#   SIMULATOR_BOOT_DELAY  seconds before the API port opens, like a login (default 1)
#   SIMULATOR_STATE, SIMULATOR_PERSIST, SIMULATOR_CONTROL_PORT  passed on to the simulator
set -euo pipefail

if [[ ${1:-} == -version ]]; then
    echo 'openjdk version "17.0.0" (stand-in: the project simulator plays IB Gateway)' >&2
    exit 0
fi

classpath=""
while [[ $# -gt 0 ]]; do
    case $1 in
        -cp | -classpath | --class-path)
            classpath=${2:?java: $1 needs a value}
            shift 2
            ;;
        -*) shift ;; # -Xmx, -D...: the JVM's business
        *) break ;;
    esac
done
main=${1:?java: no main class}
if [[ $main != ibcalpha.ibc.IbcGateway ]]; then
    echo "java (stand-in): only IBC's gateway runs here, not $main" >&2
    exit 1
fi
ini=${2:?java: IbcGateway needs its config.ini}
mode=${3:?java: IbcGateway needs the trading mode}

setting() { sed -n "s/^$1=//p" "$ini" | tail -n 1; }
port=$(setting OverrideTwsApiPort)
if [[ -z $(setting IbLoginId) || -z $(setting IbPassword) ]]; then
    echo "IBC (stand-in): no login id or password in the config.ini: login failed" >&2
    exit 1
fi
if [[ $(setting TradingMode) != "$mode" ]]; then
    echo "IBC (stand-in): TradingMode in the config.ini is not $mode" >&2
    exit 1
fi
echo "IBC (stand-in): logged in, $mode mode; the simulator serves the API on port ${port:-4002}"

program=${classpath%%:*}
program=${program%/\*}
export PYTHONPATH="$program${PYTHONPATH:+:$PYTHONPATH}"
args=(--host 127.0.0.1 --port "${port:-4002}" --trading-mode "$mode"
    --boot-delay "${SIMULATOR_BOOT_DELAY:-1}")
if [[ -n ${SIMULATOR_STATE:-} ]]; then args+=(--state "$SIMULATOR_STATE"); fi
if [[ -n ${SIMULATOR_PERSIST:-} ]]; then args+=(--persist "$SIMULATOR_PERSIST"); fi
if [[ -n ${SIMULATOR_CONTROL_PORT:-} ]]; then args+=(--control-port "$SIMULATOR_CONTROL_PORT"); fi
exec python3 -m simulator "${args[@]}"
