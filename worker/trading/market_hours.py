"""Is an instrument's market open now? Decided from IB's ContractDetails alone (liquidHours, the
regular session, in the contract's timeZoneId), with IB's own clock: no holiday table here, IB's
hours already leave out holidays and end early on early-close days.

IB writes hours as `20261224:0930-20261224:1300;20261225:CLOSED;20261228:0930-20261228:1600`
(older gateways: `20261228:0930-1600,1700-1800`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from worker.exceptions import IntentFailed

WhenClosed = Literal["skip", "queue", "fail"]
WHEN_CLOSED: tuple[str, ...] = get_args(WhenClosed)


@dataclass(frozen=True)
class Session:
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Closed:
    """An instrument whose market is closed now, and when IB says it next opens (None: not
    within the days IB listed)."""

    name: str
    next_open: datetime | None

    def describe(self) -> dict[str, str | None]:
        return {"nextOpen": self.next_open.isoformat() if self.next_open else None}


def _moment(day: str, hhmm: str, zone: ZoneInfo) -> datetime:
    return datetime.strptime(day + hhmm, "%Y%m%d%H%M").replace(tzinfo=zone)


def sessions(hours: str, time_zone: str) -> list[Session]:
    """The sessions `hours` lists, as aware datetimes; ValueError for text that is not IB's."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {time_zone!r}") from exc
    found = []
    for part in filter(None, (p.strip() for p in hours.split(";"))):
        day, sep, spans = part.partition(":")
        if not sep or len(day) != 8 or not day.isdigit():
            raise ValueError(f"not IB's hours: {part!r}")
        if spans == "CLOSED":
            continue
        for span in spans.split(","):
            begin, dash, end = span.partition("-")
            if not dash:
                raise ValueError(f"not IB's hours: {part!r}")
            start = _moment(day, begin, zone)
            end_day, _, end_time = end.rpartition(":")
            finish = _moment(end_day or day, end_time, zone)
            if finish <= start:
                if end_day:
                    raise ValueError(f"a session that ends before it starts: {part!r}")
                finish += timedelta(days=1)  # old format: a session past midnight
            found.append(Session(start, finish))
    return sorted(found, key=lambda s: s.start)


def is_open(now: datetime, found: list[Session]) -> bool:
    return any(s.start <= now < s.end for s in found)


def next_open(now: datetime, found: list[Session]) -> datetime | None:
    return min((s.start for s in found if s.start > now), default=None)


def closed_now(now: datetime, details: dict[str, Any]) -> list[Closed]:
    """The instruments (name -> ib_async ContractDetails) whose regular session is not open at
    `now`; IntentFailed `market-hours` when IB's hours cannot be read (nothing is sent blind)."""
    found = []
    for name, d in sorted(details.items()):
        hours = d.liquidHours or d.tradingHours
        try:
            if not hours:
                raise ValueError("IB sent no trading hours")
            listed = sessions(hours, d.timeZoneId)
        except ValueError as exc:
            raise IntentFailed(
                "market-hours", f"cannot tell whether {name}'s market is open: {exc}"
            ) from exc
        if not is_open(now, listed):
            found.append(Closed(name, next_open(now, listed)))
    return found


def gateway_now(ib: Any) -> datetime:
    """IB's clock (the gateway's), not this machine's."""
    now: datetime = ib.reqCurrentTime()
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def details_of(ib: Any, contracts: list[Any]) -> dict[str, Any]:
    """name -> ContractDetails for each distinct contract (by conId)."""
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for contract in contracts:
        if contract.conId in seen:
            continue
        seen.add(contract.conId)
        name = contract.localSymbol or contract.symbol
        listed = ib.reqContractDetails(contract)
        if not listed:
            raise IntentFailed(
                "market-hours", f"IB sent no contract details for {name}", retryable=True
            )
        found[name] = listed[0]
    return found


def report(closed: list[Closed], policy: WhenClosed) -> dict[str, Any]:
    """What the result says about closed markets under `policy`."""
    names = ", ".join(c.name for c in closed)
    notes = {
        "skip": f"market closed for {names}: no order placed (whenClosed skip)",
        "queue": f"market closed for {names}: DAY orders sent, IB holds them until the next open "
        "and fills them at an opening price (whenClosed queue)",
        "fail": f"market closed for {names} (whenClosed fail)",
    }
    return {
        "whenClosed": policy,
        "closed": {c.name: c.describe() for c in closed},
        "note": notes[policy],
    }


def decide(
    closed: list[Closed], policy: WhenClosed, tif: str, result: dict[str, Any]
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """(the result to end with, or None to go on; what to add to the result when going on) for
    a plan described as `result`. `fail` raises `market-closed`; `queue` needs DAY orders."""
    if not closed:
        return None, {}
    said = report(closed, policy)
    if policy == "fail":
        raise IntentFailed("market-closed", said["note"], result={**result, **said})
    if policy == "skip":
        return {**result, **said, "orders": [], "skipped": result["orders"]}, {}
    if tif != "DAY":
        raise IntentFailed(
            "bad-params",
            "whenClosed queue sends DAY orders for IB to hold until the open; "
            f"orderProperties.tif {tif!r} is not DAY",
            result={**result, **said},
        )
    return None, said
