"""ib_insync 0.9.86, unmodified, against the simulator (in its own process: its event loop
and ib_async's must not share one)."""

from __future__ import annotations

import subprocess
import sys

import pytest

SCRIPT = """
import sys
import ib_insync as i
ib = i.IB()
ib.connect("127.0.0.1", int(sys.argv[1]), clientId=3, timeout=5)
values = [v for v in ib.accountValues() if v.tag == "NetLiquidation"]
spy = ib.qualifyContracts(i.Stock("SPY", "SMART", "USD"))[0]
trade = ib.placeOrder(spy, i.MarketOrder("BUY", 2, orderRef="insync"))
ib.sleep(0.5)
print(values[0].value, spy.conId, trade.orderStatus.status, trade.fills[0].execution.orderRef)
ib.disconnect()
"""


def test_ib_insync_smoke(sim):
    pytest.importorskip("ib_insync")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(sim.port)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    net, con_id, status, ref = done.stdout.split()
    assert float(net) > 0 and con_id == "756733" and status == "Filled" and ref == "insync"
