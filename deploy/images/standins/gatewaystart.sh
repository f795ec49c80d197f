#!/usr/bin/env bash
# Stand-in for IBC's gatewaystart.sh: the worker starts scripts/ibcstart.sh itself.
echo "gatewaystart.sh (stand-in): the worker runs scripts/ibcstart.sh; see the README" >&2
exit 2
