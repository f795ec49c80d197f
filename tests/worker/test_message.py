"""The message contract, checked without the network."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

import worker.intents  # noqa: F401 - registers the plugins
from worker import intent_registry
from worker.exceptions import Rejected
from worker.message import intent_id, parse_json, schemas, trading_mode, validate
from worker.settings import Settings

SCHEMAS = Settings().schemas_dir


def check(body: dict, attributes: dict | None = None, **kw):
    return validate(
        body,
        attributes or {},
        message_id="mid",
        known_intents=intent_registry.names(),
        schemas_dir=SCHEMAS,
        **kw,
    )


def test_smallest_message_gets_defaults():
    message = check({"intent": "ping"})
    assert (message.id, message.intent, message.params, message.trading_mode) == (
        "mid",
        "ping",
        {},
        "paper",
    )
    assert message.expires_at is None


def test_id_and_mode_from_attributes():
    message = check({"intent": "ping"}, {"id": "job-1:2026.11", "tradingMode": "live"})
    assert (message.id, message.trading_mode) == ("job-1:2026.11", "live")


def test_ttl_counts_from_publish_time_and_the_earlier_limit_wins():
    published = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    message = check(
        {"intent": "ping", "ttlSeconds": 30, "expiresAt": "2026-11-23T11:00:00Z"},
        published_at=published,
    )
    assert message.expires_at == published + timedelta(seconds=30)
    message = check({"intent": "ping", "expiresAt": "2026-11-23T10:00:10+02:00"})
    assert message.expires_at == datetime(2026, 11, 23, 8, 0, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"intent": "ping", "dryrun": True}, "schema", "unknown field 'dryrun' (allowed:"),
        ({"intent": "ping", "params": {"x": 1}}, "bad-params", "unknown field 'params.x'"),
        ({"intent": "nope"}, "unknown-intent", "(known: allocation, batch, cash-balancer"),
        ({"intent": None}, "schema", "must be a string, got null"),
        ({"intent": "ping", "id": ""}, "schema", "id: '' does not match"),
        ({"intent": "ping", "id": "x" * 65}, "schema", "does not match"),
        ({"intent": "ping", "id": "."}, "schema", "id: '.' does not match"),
        ({"intent": "ping", "id": ".."}, "schema", "id: '..' does not match"),
        ({"intent": "ping", "ttlSeconds": 0}, "schema", "ttlSeconds: 0 is less than the minimum"),
        ({"intent": "ping", "expiresAt": "2026-13-45T99:00:00Z"}, "schema", "not an RFC 3339 time"),
        ({"intent": "ping", "requestedBy": 7}, "schema", "requestedBy: 7 is not of type 'string'"),
    ],
)
def test_rejections_say_what_is_wrong(body, code, words):
    with pytest.raises(Rejected) as caught:
        check(body)
    assert caught.value.code == code
    assert words in str(caught.value)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"{", "not valid JSON"),
        (b"1", "got a JSON int"),
        (b'"x"', "got a JSON str"),
        (b"\xc3\x28", "not UTF-8"),
        (b"[]", "JSON array"),
    ],
)
def test_parse_json(data, words):
    with pytest.raises(Rejected, match=words):
        parse_json(data)


def test_mode_rules():
    assert trading_mode({}, {}) == "paper"
    assert trading_mode({"tradingMode": "live"}, {"tradingMode": "live"}) == "live"
    with pytest.raises(Rejected, match="contradicts"):
        trading_mode({"tradingMode": "live"}, {"tradingMode": "paper"})
    with pytest.raises(Rejected, match="must be 'paper' or 'live'"):
        trading_mode({}, {"tradingMode": "PAPER"})


def test_id_rules():
    assert intent_id({"id": "a"}, {"id": "a"}, "m") == "a"
    assert intent_id({"id": "bad id"}, {}, "m") == "m"
    with pytest.raises(Rejected, match="contradicts"):
        intent_id({"id": "a"}, {"id": "b"}, "m")


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "intent",
                "params",
                "tradingMode",
                "id",
                "expiresAt",
                "ttlSeconds",
                "requestedBy",
                "extra",
            ]
        ),
        st.none()
        | st.booleans()
        | st.integers()
        | st.text(max_size=30)
        | st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    ),
    st.dictionaries(st.sampled_from(["id", "tradingMode", "intent"]), st.text(max_size=10)),
)
def test_any_object_is_either_valid_or_rejected(body, attributes):
    try:
        message = check(body, attributes)
    except Rejected as exc:
        assert str(exc) and exc.code
    else:
        assert message.intent in intent_registry.names()
        json.dumps(message.params)


def test_schema_enum_matches_the_registry_and_every_intent_has_a_params_schema():
    schema = schemas(SCHEMAS)["intent"]  # its enum derived from schemas/intents
    assert sorted(schema["properties"]["intent"]["enum"]) == intent_registry.names()
    for name in intent_registry.names():
        params = json.loads((SCHEMAS / "intents" / f"{name}.schema.json").read_text())
        assert params["additionalProperties"] is False, f"{name}'s params must be strict"


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(constant):
    with pytest.raises(Rejected) as refused:
        parse_json(b'{"intent": "allocation", "params": {"x": ' + constant.encode() + b"}}")
    assert refused.value.code == "invalid-json"
    assert f"{constant} is not a JSON number" in str(refused.value)


def test_a_schema_rule_speaks_in_its_own_words_once():
    with pytest.raises(Rejected) as refused:
        validate(
            {"intent": "allocation", "params": {"orderProperties": {"unfilled": "cancel"}}},
            {},
            message_id="m",
            known_intents=intent_registry.names(),
            schemas_dir=Settings().schemas_dir,
        )
    said = str(refused.value)
    assert said.count("unfilled and unfilledAfterSeconds go together") == 1
