"""`collect-market-data`: daily bars of the configured instruments into Firestore."""

from __future__ import annotations

from typing import Any

from worker.exceptions import IntentFailed
from worker.registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market


@intent("collect-market-data")
def collect_market_data(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    settings = config.get("marketData") or {}
    keys = params.get("instruments") or settings.get("instruments") or []
    if not keys:
        raise IntentFailed(
            "config", "no instruments: set config.marketData.instruments or params.instruments"
        )
    duration = params.get("duration") or settings.get("duration", "1 M")
    contracts = market.contracts(ib, config.get("instruments") or {}, keys)
    stored = {}
    for key, contract in contracts.items():
        bars = ib.reqHistoricalData(contract, "", duration, "1 day", "TRADES", True)
        collection = ctx.db.collection("marketData").document(key).collection("daily")
        batch = ctx.db.client.batch()
        for bar in bars:
            # One document per bar, named by its date: collecting twice writes the same bar.
            batch.set(
                collection.document(bar.date.strftime("%Y%m%d")),
                {
                    "date": bar.date.isoformat(),
                    "open": bar.open,
                    "high": bar.high,
                    "low": bar.low,
                    "close": bar.close,
                    "volume": bar.volume,
                    "conId": contract.conId,
                },
            )
        ctx.db.commit(batch)
        stored[key] = {
            "bars": len(bars),
            "first": bars[0].date.isoformat() if bars else None,
            "last": bars[-1].date.isoformat() if bars else None,
        }
    return {"duration": duration, "stored": stored}
