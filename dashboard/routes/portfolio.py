"""Holdings (strategies' holdings, unreconciled orders, the IB portfolio beside them) and the
account (net liquidation and cash over time from `summary` results)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from dashboard import charts, params
from dashboard.context import ctx
from publisher import digest
from publisher.records import MODES

bp = Blueprint("portfolio", __name__)
HISTORY = 200  # summary results drawn on the account chart


def _mode() -> tuple[str, list[str]]:
    return params.read_mode(request.args, ctx().settings.modes[0])


@bp.get("/holdings")
def holdings():  # type: ignore[no-untyped-def]
    mode, errors = _mode()
    records = ctx().records
    held = records.holdings(mode)
    waiting = records.open_orders(mode)
    summary = next(
        (r for r in records.finished("summary", mode, 5) if r.get("status") == "succeeded"), None
    )
    recon = next(iter(records.finished("trade-reconciliation", mode, 1)), None)
    allocations = records.finished("allocation", mode, 5)
    portfolio = digest.ib_portfolio(summary, recon)
    names = digest.symbols(summary, recon, *allocations)
    rows = digest.holding_rows(held, portfolio, names)
    strategies = sorted({s for row in rows for s in row.strategies})
    page = render_template(
        "holdings.html",
        mode=mode,
        modes=MODES,
        errors=errors,
        rows=rows,
        strategies=strategies,
        portfolio=portfolio,
        open_orders=sorted(waiting.items()),
        names=names,
        differing=sum(1 for r in rows if r.differs),
    )
    return page, 400 if errors else 200


@bp.get("/account")
def account():  # type: ignore[no-untyped-def]
    mode, errors = _mode()
    summaries = ctx().records.finished("summary", mode, HISTORY)
    points = digest.account_series(summaries)
    latest = next((r for r in summaries if r.get("status") == "succeeded"), None)
    currency = points[-1].currency if points else ""
    series = [
        charts.Series(
            "Net liquidation",
            "line-net",
            [(p.at, p.net_liquidation) for p in points if p.net_liquidation is not None],
        ),
        charts.Series(
            "Total cash", "line-cash", [(p.at, p.cash) for p in points if p.cash is not None]
        ),
    ]
    chart = charts.line_chart(
        series,
        f"Net liquidation and cash ({mode}, {currency})",
        f"{len(points)} summary results from {points[0].at:%Y-%m-%d} to {points[-1].at:%Y-%m-%d}"
        if points
        else "no data",
    )
    page = render_template(
        "account.html",
        mode=mode,
        modes=MODES,
        errors=errors,
        chart=chart,
        points=points,
        latest=latest,
        currency=currency,
    )
    return page, 400 if errors else 200
