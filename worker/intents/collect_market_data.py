"""`collect-market-data`: bars of the configured instruments into Firestore, daily by default
or in any of IB's bar sizes (`barSize`).

Each instrument is reported on its own: its bars, or the error IB answered with. An error for
any instrument fails the intent (after the others were stored), so a refused request never ends
`succeeded` with nothing stored.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from worker.exceptions import IntentFailed
from worker.intent_registry import IntentContext, intent
from worker.trading import config as trading_config
from worker.trading import market

BATCH_WRITES = 500  # Firestore's limit of writes per batch
DAILY = "1 day"


@intent("collect-market-data")
def collect_market_data(ctx: IntentContext, params: dict[str, Any]) -> dict[str, Any]:
    ib = ctx.ib()
    config = trading_config.load(ctx.db, ctx.trading_mode)
    settings = config.get("marketData") or {}
    keys = params.get("instruments") or trading_config.require(config, "marketData.instruments")
    duration = params.get("duration") or settings.get("duration", "1 M")
    bar_size = params.get("barSize") or settings.get("barSize", DAILY)
    contracts = market.contracts(ib, config.get("instruments") or {}, keys)
    stored: dict[str, Any] = {}
    codes: dict[str, str] = {}  # instrument -> the error's code
    for key, contract in contracts.items():
        try:
            bars = market.bars(ib, contract, duration, bar_size, key, ctx.deadline)
        except IntentFailed as exc:
            stored[key] = {"bars": 0, "error": str(exc), "retryable": exc.retryable}
            codes[key] = exc.code
            continue
        write(ctx.db, key, contract.conId, bars, bar_size)
        stored[key] = {
            "bars": len(bars),
            "first": bars[0].date.isoformat() if bars else None,
            "last": bars[-1].date.isoformat() if bars else None,
        }
    result = {"duration": duration, "barSize": bar_size, "stored": stored}
    failed = {k: v for k, v in stored.items() if "error" in v}
    if failed:
        raise IntentFailed(
            # every failure a pacing wait past the deadline: say so (retryable, docs/market-data.md)
            "pacing" if set(codes.values()) == {"pacing"} else "market-data",
            f"{len(failed)} of {len(stored)} instruments failed: "
            + "; ".join(v["error"] for v in failed.values()),
            retryable=all(v["retryable"] for v in failed.values()),
            result=result,
        )
    return result


def collection_name(bar_size: str) -> str:
    """`daily` for daily bars (as before bar sizes), else `bars-` and the size without spaces
    (`bars-5mins`): each size in a collection of its own, so sizes never mix."""
    return "daily" if bar_size == DAILY else "bars-" + bar_size.replace(" ", "")


def document_id(when: date | datetime) -> str:
    """`YYYYMMDD` for a day; `YYYYMMDDTHHMMSSZ` in UTC for an intraday bar's start."""
    if isinstance(when, datetime):
        at = when.astimezone(UTC) if when.tzinfo else when
        return at.strftime("%Y%m%dT%H%M%SZ")
    return when.strftime("%Y%m%d")


def write(db: Any, key: str, con_id: int, bars: list[Any], bar_size: str = DAILY) -> None:
    """One document per bar, named by its date or start (collecting twice writes the same bar),
    in batches of at most BATCH_WRITES."""
    collection = db.collection("marketData").document(key).collection(collection_name(bar_size))
    for start in range(0, len(bars), BATCH_WRITES):
        batch = db.batch()
        for bar in bars[start : start + BATCH_WRITES]:
            batch.set(
                collection.document(document_id(bar.date)),
                {
                    "date": bar.date.isoformat(),
                    "open": bar.open,
                    "high": bar.high,
                    "low": bar.low,
                    "close": bar.close,
                    "volume": bar.volume,
                    "conId": con_id,
                },
            )
        db.commit(batch)
