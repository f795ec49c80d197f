"""HTTP entry point: `handle`, served by worker/server.py (`python -m worker.server`).

Every delivery shape (Pub/Sub push, wrapped or not, and Eventarc CloudEvents) comes in here as
plain HTTP; the worker decodes it itself so that nothing it cannot parse turns into an endless
redelivery. The logic lives in `worker.pipeline`.
"""

from __future__ import annotations

import json
import logging
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if __package__ in (None, ""):  # loaded by path, as functions-framework does with --source
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flask
import functions_framework

from worker import interrupts, logs, names
from worker.delivery import MAX_REQUEST_BYTES, decode
from worker.exceptions import NotADelivery
from worker.settings import settings

if TYPE_CHECKING:
    from worker.pipeline import Pipeline

logs.setup()
log = logging.getLogger("worker")


# functions-framework loads this module in gunicorn's master process, before it forks the worker:
# no threads and no gRPC clients may be created at import time. The clients come with the first
# delivery.
@cache
def _pipeline() -> Pipeline:
    from worker.database import Database
    from worker.gateway.session import GatewaySession
    from worker.pipeline import Pipeline
    from worker.results import ResultPublisher
    from worker.runner import Runner
    from worker.store import IntentStore

    s = settings()
    db = Database(s)
    store = IntentStore(s, db)
    session = cache(lambda: GatewaySession(s, db))
    interrupts.install(on_idle_shutdown=lambda: session().close())
    runner = Runner(s, session=session, audit=store.audit, db=db, renew=store.renew)
    return Pipeline(settings=s, store=store, publisher=ResultPublisher(s), runner=runner)


@functions_framework.http
def handle(request: flask.Request) -> flask.Response:
    """Answer one delivery: 2xx acks, 429/503 ask Pub/Sub to deliver again, 400 is not ours.

    `/dead-letter` receives the messages Pub/Sub gave up on, to close their intents."""
    trace = logs.trace_field(request.headers.get("X-Cloud-Trace-Context"), settings().project)
    with logs.context(**{"logging.googleapis.com/trace": trace}):
        if request.method != "POST":
            return _json(405, {"error": "POST a Pub/Sub push or a CloudEvent"})
        try:
            delivery = decode(dict(request.headers), _body(request))
        except NotADelivery as exc:
            log.warning("not a Pub/Sub delivery: %s (%s)", exc, exc.detail or "")
            return _json(400, {"error": str(exc)})
        pipeline = _pipeline()
        with interrupts.request():
            if request.path.rstrip("/") == names.DEAD_LETTER_PATH:
                answer = pipeline.handle_dead_letter(delivery)
            else:
                answer = pipeline.handle(delivery)
        return _json(answer.status, answer.body)


def _body(request: flask.Request) -> bytes:
    """The body, never more than MAX_REQUEST_BYTES of it in memory."""
    declared = request.content_length
    if declared is not None and declared > MAX_REQUEST_BYTES:
        raise NotADelivery("request body too large", f"Content-Length {declared}")
    try:
        body = request.stream.read(MAX_REQUEST_BYTES + 1)
    except Exception as exc:  # a slow client, a broken chunked encoding, a dropped connection
        raise NotADelivery("request body could not be read", repr(exc)[:200]) from None
    if len(body) > MAX_REQUEST_BYTES:
        raise NotADelivery("request body too large", "chunked")
    return body


def _json(status: int, body: dict[str, Any]) -> flask.Response:
    return flask.Response(json.dumps(body), status=status, mimetype="application/json")
