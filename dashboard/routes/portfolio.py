"""Holdings (the strategies' holdings beside the freshest picture of IB's positions, judged by
publisher/holdings_view.py, and the orders not yet reconciled; a button publishes a summary and
the page follows it) and the account (net liquidation and cash over time from `summary`
results)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from dashboard import charts, identity, params, security
from dashboard.context import ctx
from publisher import digest, holdings_read
from publisher.client import publish_intent
from publisher.records import MODES

bp = Blueprint("portfolio", __name__)
HISTORY = 200  # summary results drawn on the account chart
SUBMISSION = re.compile(r"^[0-9a-f]{24}$")  # security.Submissions.new()


def _mode() -> tuple[str, list[str]]:
    return params.read_mode(request.args, ctx().settings.modes[0])


@bp.get("/holdings")
def holdings():  # type: ignore[no-untyped-def]
    values, errors = params.single(request.args, ("mode", "refresh"))
    mode = _checked(params.mode, values.get("mode"), ctx().settings.modes[0], errors)
    refresh = _checked(params.intent_id, values.get("refresh"), None, errors)
    records = ctx().records
    # The summary being followed first: once it has ended, the holdings read after it include
    # its positions (read the other way round, the page could stop following a moment early).
    record = records.intent(mode, refresh) if refresh else None
    waiting = bool(refresh) and (record is None or not digest.is_terminal(record))
    found = holdings_read.read(records, mode)
    args = {
        "mode": mode,
        "modes": MODES,
        "errors": errors,
        "view": found.view,
        "strategies": sorted({s for row in found.view.rows for s in row.strategies}),
        "open_orders": sorted(found.open_orders.items()),
        "names": found.names,
        "refresh": refresh,
        "refreshed": record,
        "waiting": waiting,
        "can_refresh": mode in ctx().settings.modes,
        "submission": security.Submissions.new(),
        "poll_ms": int(ctx().settings.poll_seconds * 1000),
    }
    template = "_holdings_live.html" if request.headers.get("X-Fragment") else "holdings.html"
    headers = {"X-Terminal": "0" if waiting else "1"}
    return render_template(template, **args), 400 if errors else 200, headers


@bp.post("/holdings/refresh")
def refresh():  # type: ignore[no-untyped-def]
    """Publish a summary (read-only: it places nothing), then follow it on the Holdings page,
    which compares with its positions once its result lands."""
    data = request.form
    mode, submission = data.get("mode", ""), data.get("submission", "")
    try:
        security.check_csrf(data.get("csrf", ""))
        if mode not in ctx().settings.modes:
            raise security.Refused(f"this dashboard does not publish in {mode[:20]!r}")
        if not SUBMISSION.match(submission):
            raise security.Refused("the form has no valid submission id: reload the page")
        done = ctx().submissions.begin(submission, wait=ctx().settings.publish_timeout + 5)
    except security.Refused as exc:
        return _problem(str(exc), 403)
    if done is not None:  # a second click: the first click's summary
        return _follow(*done)
    intent_id, published = f"summary-{submission}", None
    try:
        publish_intent(
            "summary",
            {},
            mode,
            intent_id,
            None,
            requested_by=identity.requested_by(ctx().iap, request.headers)[:200],
            timeout=ctx().settings.publish_timeout,
        )
        published = (mode, intent_id)
    except Exception as exc:  # Pub/Sub unreachable or refusing: the page says so
        message = (
            f"Pub/Sub did not take the summary ({exc.__class__.__name__}); the holdings are "
            "unchanged. Try again in a moment."
        )
        return _problem(message, 503)
    finally:
        ctx().submissions.end(submission, published)
    return _follow(mode, intent_id)


def _problem(message: str, status: int):  # type: ignore[no-untyped-def]
    back = [(url_for("portfolio.holdings"), "Holdings")]
    page = render_template(
        "problem.html", title="Not refreshed", message=message, status=status, links=back
    )
    return page, status


def _follow(mode: str, intent_id: str):  # type: ignore[no-untyped-def]
    return redirect(url_for("portfolio.holdings", mode=mode, refresh=intent_id), code=303)


def _checked(
    check: Callable[[str], str], value: str | None, default: str | None, errors: list[str]
) -> Any:
    if not value:
        return default
    try:
        return check(value)
    except params.BadInput as exc:
        errors.append(str(exc))
        return default


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
