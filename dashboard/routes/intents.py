"""The intents list (filters, paging, updating itself) and an intent's detail page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for

from dashboard import params, shapes
from dashboard.context import ctx
from publisher import digest
from publisher.client import known_intents
from publisher.records import MODES, STATUSES, Page

bp = Blueprint("intents", __name__)


@bp.get("/")
def home():  # type: ignore[no-untyped-def]
    return redirect(url_for("intents.index"))


@bp.get("/intents")
def index():  # type: ignore[no-untyped-def]
    filters = params.list_filters(request.args)
    page = Page([], None)
    try:
        page = ctx().records.list_intents(filters.query())
    except LookupError as exc:
        filters.errors.append(f"{exc}: showing the newest instead")
        filters.after = None
        filters.values.pop("after", None)
        page = ctx().records.list_intents(filters.query())
    rows = attention_first([_row(record) for record in page.items])
    status = 400 if filters.errors else 200
    args = {
        "filters": filters,
        "rows": rows,
        "page": page,
        "intents": known_intents(),
        "statuses": STATUSES,
        "modes": MODES,
        "sizes": params.SIZES,
        "poll_ms": int(ctx().settings.poll_seconds * 1000),
    }
    template = "_intents_table.html" if request.headers.get("X-Fragment") else "intents.html"
    return render_template(template, **args), status


def _row(record: dict) -> dict:
    error = record.get("error") or {}
    return {
        "id": record.get("id") or record["_key"].partition(":")[2],
        "mode": record.get("tradingMode") or record["_key"].partition(":")[0],
        "intent": record.get("intent") or "-",
        "status": record.get("status") or "-",
        "requested_by": record.get("requestedBy") or "-",
        "received": record.get("receivedAt"),
        "duration": digest.duration(record),
        "attempts": record.get("attempts", 0),
        "error": error.get("message") if isinstance(error, dict) else None,
        "bad": record.get("status") in ("failed", "rejected", "expired"),
        # Failed (dead-lettered and schedule-silent results are failed too): listed first.
        "attention": record.get("status") == "failed",
    }


def attention_first(rows: list[dict]) -> list[dict]:
    """The rows that need attention first; each group keeps its order (newest first)."""
    return sorted(rows, key=lambda row: not row["attention"])


@bp.get("/intents/<mode>/<intent_id>")
def detail(mode: str, intent_id: str):  # type: ignore[no-untyped-def]
    values, errors = params.single(request.args, ("published",))
    try:
        params.mode(mode)
        params.intent_id(intent_id)
    except params.BadInput as exc:
        return _missing(mode, intent_id, str(exc))
    if errors:
        raise params.BadInput(errors[0])
    records = ctx().records
    record = records.intent(mode, intent_id)
    fragment = request.headers.get("X-Fragment")
    if record is None:
        if "published" in values:
            args = {"mode": mode, "intent_id": intent_id, "waiting": True}
            template = "_intent_live.html" if fragment else "intent.html"
            return render_template(template, **args, poll_ms=_poll())
        return _missing(mode, intent_id, f"No intent {intent_id} in {mode}.")
    events = records.events(mode, intent_id)
    result = record.get("result")
    if not isinstance(result, dict):
        result = {}
    args = {
        "mode": mode,
        "intent_id": intent_id,
        "record": record,
        "events": [
            {**e, "text": digest.describe(e), "bad": digest.is_bad_event(e)} for e in events
        ],
        "orders": digest.orders(record, events),
        "params": shapes.shape(record.get("params") or {}),
        "result": shapes.shape({k: v for k, v in result.items() if k not in ("orders", "trades")}),
        "raw": shapes.raw_json({k: v for k, v in record.items() if k != "_key"}),
        "raw_events": shapes.raw_json(events),
        "terminal": digest.is_terminal(record),
        "duration": digest.duration(record),
        "poll_ms": _poll(),
    }
    response = render_template("_intent_live.html" if fragment else "intent.html", **args)
    return response, 200, {"X-Terminal": "1" if args["terminal"] else "0"}


def _poll() -> int:
    return int(ctx().settings.poll_seconds * 1000)


def _missing(mode: str, intent_id: str, message: str):  # type: ignore[no-untyped-def]
    other = [m for m in MODES if m != mode]
    return (
        render_template(
            "problem.html",
            title="Intent not found",
            message=message,
            status=404,
            retry=False,
            links=[
                (url_for("intents.detail", mode=m, intent_id=intent_id), f"look in {m}")
                for m in other
                if params.ID_PATTERN.match(intent_id)
            ],
        ),
        404,
    )
