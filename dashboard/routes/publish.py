"""Publish: a form per intent generated from its schema, checked on the server by the
publisher library (the CLI's validation), published once per form submission."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for

from dashboard import forms, identity, params, security
from dashboard.context import ctx
from publisher.client import PublishError, known_intents, publish_intent

bp = Blueprint("publish", __name__)

TOP_FIELDS = {"csrf", "submission", "intent", "mode", "id", "ttl", "confirm"}
MAX_TTL = 7 * 24 * 3600
SUBMISSION = re.compile(r"^[0-9a-f]{24}$")


@bp.get("/publish")
def form():  # type: ignore[no-untyped-def]
    values, errors = params.single(request.args, ("intent",))
    intent = "ping"
    if values.get("intent"):
        try:
            intent = params.intent_name(values["intent"])
        except params.BadInput as exc:
            errors.append(str(exc))
    fields = forms.form_fields(intent)
    top = {"mode": ctx().settings.modes[0]}
    return _page(intent, fields, forms.initial(fields), top, errors, {}, 400 if errors else 200)


@bp.post("/publish")
def send():  # type: ignore[no-untyped-def]
    data = request.form
    intent = data.get("intent", "")
    try:
        params.intent_name(intent)
    except params.BadInput as exc:
        fields = forms.form_fields("ping")
        return _page("ping", fields, forms.initial(fields), {}, [str(exc)], {}, 400)
    fields = forms.form_fields(intent)
    values = forms.submitted(fields, data)
    top = {k: data.get(k, "") for k in ("mode", "id", "ttl")}
    submission = data.get("submission", "")
    try:
        security.check_csrf(data.get("csrf", ""))
    except security.Refused as exc:
        return _page(intent, fields, values, top, [str(exc)], {}, 403)
    errors, field_errors, message = _check(data, fields, submission)
    if errors or field_errors:
        return _page(intent, fields, values, top, errors, field_errors, 400, submission)
    mode, intent_id, ttl, body = message
    submissions = ctx().submissions
    try:
        done = submissions.begin(submission, wait=ctx().settings.publish_timeout + 5)
    except security.Refused as exc:
        return _page(intent, fields, values, top, [str(exc)], {}, 409, submission)
    if done is not None:  # a second click of a form already published
        return _follow(*done)
    published = None
    try:
        publish_intent(
            intent,
            body,
            mode,
            intent_id,
            ttl,
            requested_by=_requested_by(),
            timeout=ctx().settings.publish_timeout,
        )
        published = (mode, intent_id)
    except PublishError as exc:
        named = _field_error(str(exc), fields)
        errors = [] if named else [str(exc)]
        return _page(intent, fields, values, top, errors, named, 400, submission)
    except Exception as exc:  # Pub/Sub unreachable or refusing: the page says so
        problem = (
            f"Pub/Sub did not take the message ({exc.__class__.__name__}). It may or may not "
            f"have been published; sending this form again is safe: it keeps the intent id "
            f"{intent_id}, so the worker runs it at most once."
        )
        return _page(intent, fields, values, top, [problem], {}, 503, submission)
    finally:
        submissions.end(submission, published)
    return _follow(mode, intent_id)


def _check(
    data: Any, fields: list[forms.Field], submission: str
) -> tuple[list[str], dict[str, str], tuple[str, str, int | None, dict[str, Any]]]:
    """Every top-level field and the params; what to publish when nothing is wrong."""
    settings, errors = ctx().settings, []
    unknown = [k for k in data if k not in TOP_FIELDS and not k.startswith(forms.PREFIX)]
    if unknown:
        errors.append(f"unknown form field {unknown[0][:40]!r}")
    errors.extend(_repeated(data, fields))
    if not SUBMISSION.match(submission):
        errors.append("the form has no valid submission id: reload the page")
    mode = data.get("mode", "")
    if mode not in settings.modes:
        if mode == "live":
            errors.append(
                "live trading is not enabled on this dashboard "
                f"(DASHBOARD_MODES={','.join(settings.modes)})"
            )
        else:
            errors.append(f"mode: {mode[:20]!r} is not one of {', '.join(settings.modes)}")
    elif mode == "live" and data.get("confirm", "").strip() != settings.live_confirm:
        what = "LIVE" if settings.live_confirm == "LIVE" else "the live confirmation phrase"
        errors.append(f"live needs confirmation: type {what} in the confirmation field")
    intent_id = data.get("id", "").strip() or f"{data.get('intent')}-{submission}"
    try:
        params.intent_id(intent_id)
    except params.BadInput as exc:
        errors.append(str(exc))
    ttl = _ttl(data.get("ttl", "").strip(), errors)
    body: dict[str, Any] = {}
    field_errors: dict[str, str] = {}
    try:
        body = forms.parse(fields, data)
    except forms.FormErrors as exc:
        field_errors = exc.errors
    return errors, field_errors, (mode, intent_id, ttl, body)


def _repeated(data: Any, fields: list[forms.Field]) -> list[str]:
    """A field sent more than once (only a multiple choice may be): which value was meant is
    not for the dashboard to guess, as with the query parameters."""
    multi = {f.name for f in forms.walk(fields) if f.kind == "multi"}
    return [
        f"{key[:40]!r}: give it once, not {count} times"
        for key in data
        if key not in multi and (count := len(data.getlist(key))) > 1
    ]


def _field_error(message: str, fields: list[forms.Field]) -> dict[str, str]:
    """The schema's message on the form field it is about ("params.a.b[0]: ..."), if any."""
    where, sep, text = message.partition(": ")
    if not sep or not where.startswith("params."):
        return {}
    path = where[len("params.") :].split("[", 1)[0]
    names = {f.name for f in forms.walk(fields)}
    name = forms.PREFIX + path
    while name not in names and "." in name[len(forms.PREFIX) :]:
        name = name.rsplit(".", 1)[0]
    if name not in names:
        return {}
    return {name: text if where[len("params.") :] == name[len(forms.PREFIX) :] else message}


def _ttl(text: str, errors: list[str]) -> int | None:
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_TTL:
        errors.append(f"ttl: {text[:20]!r} is not a number of seconds from 1 to {MAX_TTL}")
        return None
    return int(text)


def _requested_by() -> str:
    # Behind Identity-Aware Proxy, the signed-in account, from IAP's verified JWT only.
    return identity.requested_by(ctx().iap, request.headers)[:200]


def _follow(mode: str, intent_id: str):  # type: ignore[no-untyped-def]
    url = url_for("intents.detail", mode=mode, intent_id=intent_id, published=1)
    return redirect(url, code=303)


def _page(
    intent: str,
    fields: list[forms.Field],
    values: dict[str, Any],
    top: dict[str, str],
    errors: list[str],
    field_errors: dict[str, str],
    status: int,
    submission: str | None = None,
):  # type: ignore[no-untyped-def]
    token = submission if submission and SUBMISSION.match(submission) else None
    return (
        render_template(
            "publish.html",
            intent=intent,
            intents=known_intents(),
            description=forms.schema(intent).get("description", ""),
            fields=fields,
            values=values,
            top=top,
            errors=errors,
            field_errors=field_errors,
            submission=token or security.Submissions.new(),
        ),
        status,
    )
