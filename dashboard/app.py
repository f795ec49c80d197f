"""The Flask app: pages, security headers, template helpers and error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, render_template, request
from markupsafe import Markup
from werkzeug.exceptions import HTTPException

from dashboard import security
from dashboard.context import Context
from dashboard.identity import Iap
from dashboard.params import BadInput
from dashboard.routes import info, intents, portfolio, publish
from dashboard.settings import Settings
from publisher import digest
from publisher.printable import visible
from publisher.records import Records
from worker.database import NoCredentials, StoreUnavailable

log = logging.getLogger("dashboard")

NAV = (
    ("intents.index", "Intents"),
    ("publish.form", "Publish"),
    ("portfolio.holdings", "Holdings"),
    ("portfolio.account", "Account"),
    ("info.schedules", "Schedules"),
    ("info.config", "Config"),
)
STATUS_MARK = {
    "succeeded": "✓",
    "failed": "✗",
    "rejected": "⊘",
    "expired": "⌛",
    "running": "▶",
    "received": "…",
}


def create_app(settings: Settings | None = None, records: Records | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 256 * 1024
    app.extensions["dashboard"] = Context(
        settings,
        records or Records(project=settings.project or None, timeout=settings.firestore_timeout),
        iap=Iap(settings.iap_audience),
    )
    security.install(app)
    for blueprint in (intents.bp, publish.bp, portfolio.bp, info.bp):
        app.register_blueprint(blueprint)
    app.add_url_rule("/healthz", "healthz", lambda: ("ok\n", 200, {"Content-Type": "text/plain"}))
    app.jinja_env.globals.update(
        nav=NAV,
        csrf_token=security.csrf_token,
        settings=settings,
        status_mark=STATUS_MARK,
    )
    app.jinja_env.finalize = _visible
    app.jinja_env.filters.update(
        time=digest.fmt_time,
        duration=digest.fmt_duration,
        number=digest.fmt_number,
    )
    _errors(app)
    return app


def _visible(value: Any) -> Any:
    """Every text a template writes, with control and format characters escaped (a bidi
    override in a requestedBy must not reverse the table); markup the app made is left alone,
    its own texts having passed through here or charts.py."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return visible(value, keep="\n\r\t")
    return value


def _errors(app: Flask) -> None:
    @app.errorhandler(StoreUnavailable)
    def unavailable(exc: StoreUnavailable):  # type: ignore[no-untyped-def]
        if isinstance(exc, NoCredentials):  # not worth retrying: someone has to set them up
            return _problem(
                503,
                "No Google credentials",
                f"The dashboard cannot read Firestore: {exc}. On Cloud Run, the service "
                "account gives them.",
            )
        return _problem(
            503,
            "Firestore is not answering",
            f"{exc}. The data cannot be read right now; this page tries again by itself.",
            retry=True,
        )

    @app.errorhandler(BadInput)
    def bad_input(exc: BadInput):  # type: ignore[no-untyped-def]
        return _problem(400, "That request is not valid", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        titles = {404: "Not found", 405: "Not allowed", 413: "Too large"}
        text = {
            404: f"There is no page at {request.path}.",
            405: f"{request.method} is not allowed here.",
            413: "The form is too large.",
        }
        code = exc.code or 500
        return _problem(code, titles.get(code, exc.name), text.get(code, exc.description or ""))

    @app.errorhandler(Exception)
    def crashed(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unexpected error on %s", request.path)
        return _problem(
            500,
            "Something went wrong",
            f"The dashboard hit an unexpected {exc.__class__.__name__}; it is in the logs.",
        )


def _problem(status: int, title: str, message: str, retry: bool = False):  # type: ignore[no-untyped-def]
    if request.headers.get("X-Fragment"):
        return render_template("_problem.html", title=title, message=message), status
    return (
        render_template("problem.html", title=title, message=message, status=status, retry=retry),
        status,
    )
