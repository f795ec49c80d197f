"""Trading hours as IB's ContractDetails carry them (tradingHours, liquidHours, timeZoneId),
computed from the exchange calendars of `exchange_calendars` (holidays, early closes, weekends):
XNYS for stocks and indices, CMES for CME futures. Forex (IDEALPRO) trades from Sunday 17:15 to
Friday 17:00 New York time, which no exchange calendar holds.

IB's format: one entry per calendar day, `20261224:0930-20261224:1300` or `20261225:CLOSED`.
`exchange_calendars` was chosen over `pandas_market_calendars`: the latter is a layer over the
former (it imports its calendars), and the simulator needs nothing the lower layer lacks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from simulator.instruments import Instrument

DAYS = 7  # IB lists about a week of days from today
EXTENDED = (time(4, 0), timedelta(hours=4))  # stocks: pre-market from 04:00, 4 h after the close
CALENDARS = {"STK": ("XNYS", "US/Eastern"), "IND": ("XNYS", "US/Eastern")}
FUTURES = ("CMES", "US/Central")
FOREX_ZONE = "US/Eastern"


@cache
def _calendar(code: str, year: int) -> Any:
    import exchange_calendars

    return exchange_calendars.get_calendar(
        code, start=f"{year - 1}-01-01", end=f"{year + 1}-12-31", side="left"
    )


def _stamp(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%Y%m%d:%H%M")


def _days(now: datetime, zone: ZoneInfo) -> list[date]:
    today = now.astimezone(zone).date()
    return [today + timedelta(days=n) for n in range(-1, DAYS)]


def _exchange(code: str, zone: ZoneInfo, now: datetime, extended: bool) -> str:
    parts = []
    for day in _days(now, zone):
        calendar = _calendar(code, day.year)
        label = day.strftime("%Y%m%d")
        if not calendar.is_session(day.isoformat()):
            parts.append(f"{label}:CLOSED")
            continue
        start = calendar.session_open(day.isoformat()).to_pydatetime()
        end = calendar.session_close(day.isoformat()).to_pydatetime()
        if extended:
            start = datetime.combine(day, EXTENDED[0], zone)
            end = end + EXTENDED[1]
        parts.append(f"{_stamp(start, zone)}-{_stamp(end, zone)}")
    return ";".join(parts)


def _forex(zone: ZoneInfo, now: datetime) -> str:
    parts = []
    for day in _days(now, zone):
        label = day.strftime("%Y%m%d")
        if day.weekday() >= 5:
            parts.append(f"{label}:CLOSED")
            continue
        start = datetime.combine(day - timedelta(days=1), time(17, 15), zone)
        end = datetime.combine(day, time(17, 0), zone)
        parts.append(f"{_stamp(start, zone)}-{_stamp(end, zone)}")
    return ";".join(parts)


def _always(zone: ZoneInfo, now: datetime) -> str:
    return ";".join(
        f"{day:%Y%m%d}:0000-{day + timedelta(days=1):%Y%m%d}:0000" for day in _days(now, zone)
    )


def contract_hours(
    instrument: Instrument, now: datetime, calendar: bool = True
) -> tuple[str, str, str]:
    """(timeZoneId, tradingHours, liquidHours) of `instrument` around `now` (aware); without
    `calendar` (a simulator whose clock was never set) every day is open around the clock, so
    that tests and demos trade whatever the hour they run at."""
    now = now.astimezone(UTC)
    if not calendar:
        hours = _always(ZoneInfo("US/Eastern"), now)
        return "US/Eastern", hours, hours
    if instrument.secType == "CASH":
        hours = _forex(ZoneInfo(FOREX_ZONE), now)
        return FOREX_ZONE, hours, hours
    code, zone_name = (
        FUTURES
        if instrument.secType == "FUT"
        else CALENDARS.get(instrument.secType, CALENDARS["STK"])
    )
    zone = ZoneInfo(zone_name)
    liquid = _exchange(code, zone, now, extended=False)
    trading = _exchange(code, zone, now, extended=instrument.secType == "STK")
    return zone_name, trading, liquid


def is_open(instrument: Instrument, now: datetime, calendar: bool = True) -> bool:
    """Inside the regular session (what a market order waits for)."""
    zone_name, _, liquid = contract_hours(instrument, now, calendar)
    zone = ZoneInfo(zone_name)
    for part in liquid.split(";"):
        if part.endswith("CLOSED"):
            continue
        begin, end = part.split("-")
        start = datetime.strptime(begin, "%Y%m%d:%H%M").replace(tzinfo=zone)
        finish = datetime.strptime(end, "%Y%m%d:%H%M").replace(tzinfo=zone)
        if start <= now < finish:
            return True
    return False
