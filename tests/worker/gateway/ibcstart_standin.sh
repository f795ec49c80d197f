#!/usr/bin/env bash
# Stand-in for IBC's scripts/ibcstart.sh: takes the same arguments, checks the config.ini the
# worker wrote, echoes the credentials the way a careless gateway log might (the worker must mask
# them), then runs the project's simulator in the requested trading mode.
#   STANDIN_EXIT=N    exit with N after the login lines (N=1: a failed login)
#   STANDIN_SLEEP=S   stay "logging in" for S seconds, then exit 0
#   STANDIN_2FA=N     print IBC's second-factor line N times (N login attempts) first
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
[[ $(stat -L -c %a "$ini") == 600 ]] || { echo "stand-in: $ini is not mode 600" >&2; exit 3; }
if ! grep -q '^IbLoginId=.' "$ini" || ! grep -q '^IbPassword=.' "$ini"; then
    echo "stand-in: no credentials in $ini" >&2
    exit 4
fi
grep -q "^TradingMode=$mode\$" "$ini" || { echo "stand-in: TradingMode is not $mode" >&2; exit 5; }
port=$(sed -n 's/^OverrideTwsApiPort=//p' "$ini")
echo "stand-in IBC: gateway $version, $mode mode, API port $port"
# A real gateway may echo what it was given; the worker must redact it from its log.
user=$(sed -n 's/^IbLoginId=//p' "$ini")
password=$(sed -n 's/^IbPassword=//p' "$ini")
echo "stand-in IBC: login for $user password=$password"
echo "stand-in IBC: typed ${password^^} into the login dialog of ${user,,}"
for ((attempt = 0; attempt < ${STANDIN_2FA:-0}; attempt++)); do
    echo "2026-03-02 14:05:09:123 IBC: Second Factor Authentication initiated"
done
if [[ ${STANDIN_EXIT:-} == 1 ]]; then
    echo "stand-in IBC: Login failed: unrecognized Username or Password (user ${user^^})" >&2
fi
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
