#!/usr/bin/env bash
# Stand-in for IBC's scripts/ibcstart.sh: takes the same arguments, checks the config.ini the
# worker wrote, then runs the project's simulator in the requested trading mode.
set -euo pipefail

version=${1:?gateway major version}
shift
gateway="" mode="" ini=""
for arg in "$@"; do
    case $arg in
        --gateway | -g) gateway=1 ;;
        --mode=*) mode=${arg#*=} ;;
        --ibc-ini=*) ini=${arg#*=} ;;
        --tws-path=* | --tws-settings-path=* | --ibc-path=* | --on2fatimeout=* | --java-path=*) ;;
        --user=* | --pw=*) echo "stand-in: credentials on the command line" >&2; exit 2 ;;
        *) echo "stand-in: unknown argument $arg" >&2; exit 2 ;;
    esac
done
[[ -n $gateway ]] || { echo "stand-in: --gateway missing" >&2; exit 2; }
[[ $(stat -c %a "$ini") == 600 ]] || { echo "stand-in: $ini is not mode 600" >&2; exit 3; }
if ! grep -q '^IbLoginId=.' "$ini" || ! grep -q '^IbPassword=.' "$ini"; then
    echo "stand-in: no credentials in $ini" >&2
    exit 4
fi
grep -q "^TradingMode=$mode\$" "$ini" || { echo "stand-in: TradingMode is not $mode" >&2; exit 5; }
port=$(sed -n 's/^OverrideTwsApiPort=//p' "$ini")
echo "stand-in IBC: gateway $version, $mode mode, API port $port"
# A real gateway may echo what it was given; the worker must redact it from its log.
echo "stand-in IBC: login for $(sed -n 's/^IbLoginId=//p' "$ini") password=$(sed -n 's/^IbPassword=//p' "$ini")"
if [[ -n ${STANDIN_EXIT:-} ]]; then
    exit "$STANDIN_EXIT"
fi
if [[ -n ${STANDIN_SLEEP:-} ]]; then
    sleep "$STANDIN_SLEEP" &
    wait
    exit 0
fi
exec "${STANDIN_PYTHON:-python3}" -m simulator --host 127.0.0.1 --port "$port" \
    --trading-mode "$mode" --boot-delay "${SIMULATOR_BOOT_DELAY:-0}"
