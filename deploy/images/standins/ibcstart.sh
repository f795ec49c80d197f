#!/usr/bin/env bash
# Stand-in for IBC's scripts/ibcstart.sh, in the stand-in IBC release that deploy/images/standins.py
# builds: the same arguments, the gateway found where IBC looks for it ($TWS_PATH/ibgateway/<major>
# or $TWS_PATH/<major>), its Java runtime (--java-path, else install4j's inst_jre.cfg) started with
# the gateway's vmoptions, its jars and IBC's main class, the config.ini passed on as IBC passes it.
set -euo pipefail

version=${1:?ibcstart.sh: the gateway major version comes first}
shift
gateway="" mode="paper" ini="" tws_path="" ibc_path="" java_path=""
for arg in "$@"; do
    case $arg in
        --gateway | -g) gateway=1 ;;
        --mode=*) mode=${arg#*=} ;;
        --ibc-ini=*) ini=${arg#*=} ;;
        --tws-path=*) tws_path=${arg#*=} ;;
        --ibc-path=*) ibc_path=${arg#*=} ;;
        --java-path=*) java_path=${arg#*=} ;;
        --tws-settings-path=* | --on2fatimeout=*) ;;
        --user=* | --pw=*)
            echo "ibcstart.sh (stand-in): credentials belong in the config.ini" >&2
            exit 2
            ;;
        *)
            echo "ibcstart.sh (stand-in): unknown argument ${arg%%=*}" >&2
            exit 2
            ;;
    esac
done
if [[ -z $gateway ]]; then
    echo "ibcstart.sh (stand-in): only the gateway (--gateway) is installed" >&2
    exit 2
fi
[[ -r $ini ]] || { echo "ibcstart.sh (stand-in): cannot read --ibc-ini" >&2; exit 2; }

program=""
for candidate in "$tws_path/ibgateway/$version" "$tws_path/$version"; do
    if [[ -d $candidate/jars ]]; then
        program=$candidate
        break
    fi
done
if [[ -z $program ]]; then
    echo "ibcstart.sh (stand-in): Offline Gateway version $version is not installed in $tws_path" >&2
    exit 1
fi
if [[ -z $java_path ]]; then
    java_path="$(<"$program/.install4j/inst_jre.cfg")/bin"
fi
options=()
while IFS= read -r line; do
    [[ -z $line || $line == \#* ]] || options+=("$line")
done <"$program/ibgateway.vmoptions"

echo "ibcstart.sh (stand-in): IB Gateway $version, $mode mode, IBC in ${ibc_path:-?}"
exec "$java_path/java" "${options[@]}" -cp "$program/jars/*:$ibc_path/IBC.jar" \
    ibcalpha.ibc.IbcGateway "$ini" "$mode"
