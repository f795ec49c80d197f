"""The dashboard's bad-input handling, property-tested (issue 25): every query parameter of every
page and every field of every intent's publish form, given hostile values (any text, control
characters, JSON thousands deep, over-long, repeated, unknown names). Never a 5xx; a form with a
bad field is a 4xx and publishes nothing; whatever is sent, a publish happens only with the
redirect to the intent, once, and only of a message the publisher's validation accepts. On the
in-memory records and publish spy of tests/dashboard/memory.py."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from dashboard import forms
from dashboard.routes.publish import MAX_TTL, SUBMISSION, TOP_FIELDS
from publisher.client import known_intents
from tests.dashboard.support import form_of
from worker.message import ID_PATTERN

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SPECIAL = [
    "", " ", "on", "off", "paper", "live", "LIVE", "ping", "0", "-1", "1e999", "NaN", "Infinity",
    "9" * 40, "1_000", "\u0661\u0662", "[" * 5000, "[" * 3000 + "]" * 3000,
    '{"a":' * 40 + "1" + "}" * 40,
    "x" * (forms.MAX_FIELD + 1), "\u202e", "\x00", "\x1b[31m", "\ud800", "a\r\nb", "%00", "../..",
    ".", "..", "<script>x</script>", "'\"", "null", "[]", "{}", "[1,", "DAY", "MKT",
]  # fmt: skip
HOSTILE = st.one_of(st.sampled_from(SPECIAL), st.text(max_size=60))
NAMES = st.one_of(st.sampled_from(sorted(TOP_FIELDS)), st.text(max_size=20), st.just("p.x"))
INTENTS = known_intents()


def _fresh(client, intent: str) -> MultiDict:
    """A form as the page first shows it: hidden fields, mode, the initial values."""
    page = client.get(f"/publish?intent={intent}")
    assert page.status_code == 200
    form = MultiDict({**form_of(page.get_data(as_text=True)), "mode": "paper"})
    for name, value in forms.initial(forms.form_fields(intent)).items():
        if value is True:
            form.add(name, "on")
        elif value is not False:
            form.add(name, str(value))
    return form


def _post(offline, form: MultiDict):
    before = len(offline.published)
    body = urlencode(list(form.items(multi=True)), errors="surrogatepass")  # as a client may
    response = offline.client.post(
        "/publish", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500, response.get_data(as_text=True)[-500:]
    return response, offline.published[before:]


# -- query parameters -------------------------------------------------------------------------

PAGES = {
    "/intents": ["mode", "intent", "status", "from", "to", "size", "after"],
    "/intents/paper/some-id": ["published"],
    "/publish": ["intent"],
    "/holdings": ["mode"],
    "/account": ["mode"],
    "/config": ["mode"],
    "/schedules": [],
}


def _query(pairs: list[tuple[str, str]]) -> str:
    """Encoded as a client may, lone surrogates included (as the bytes UTF-8 would give)."""
    return urlencode(pairs, errors="surrogatepass")


PARAMETERS = sorted({name for names in PAGES.values() for name in names})


@given(
    st.sampled_from(list(PAGES)),
    st.lists(st.tuples(st.one_of(st.sampled_from(PARAMETERS), NAMES), HOSTILE), max_size=6),
    st.booleans(),
)
@PROPERTY
def test_any_query_parameters_never_give_a_5xx_nor_publish(offline, path, pairs, fragment) -> None:
    offline.records.add("paper", "some-id", intent="ping", status="succeeded")
    response = offline.client.get(
        path, query_string=_query(pairs), headers={"X-Fragment": "1"} if fragment else {}
    )
    assert response.status_code < 500, (path, pairs)
    assert offline.published == []


@given(HOSTILE, HOSTILE)
@PROPERTY
def test_any_intent_path_never_gives_a_5xx(offline, mode, intent_id) -> None:
    segments = [quote(v, safe="", errors="surrogatepass") for v in (mode, intent_id)]
    response = offline.client.get("/intents/" + "/".join(segments))
    assert response.status_code < 500
    assert offline.published == []


QUERY = [(path, name) for path, names in PAGES.items() for name in [*names, "unknown"]]


@pytest.mark.parametrize(("path", "name"), QUERY)
@given(value=HOSTILE, twice=st.booleans())
@settings(PROPERTY, max_examples=25)
def test_each_query_parameter_never_gives_a_5xx_and_twice_is_refused(
    offline, path, name, value, twice
) -> None:
    offline.records.add("paper", "some-id", intent="ping", status="succeeded")
    response = offline.client.get(path, query_string=_query([(name, value)] * (2 if twice else 1)))
    assert response.status_code < 500, (path, name, value)
    if twice or name == "unknown":
        assert response.status_code == 400
    assert offline.published == []


# -- the publish form: one bad field ----------------------------------------------------------


def _bad_for(field: forms.Field) -> st.SearchStrategy[str]:
    """Values the form or the schema must refuse for this field."""
    long = st.just("x" * (forms.MAX_FIELD + 1))
    options = {str(o) for o in field.options}
    kinds = {
        "boolean": HOSTILE.filter(lambda t: t != "on"),
        "choice": HOSTILE.filter(lambda t: t.strip() not in options and t.strip() != ""),
        "multi": HOSTILE.filter(lambda t: t not in options),
        "integer": HOSTILE.filter(lambda t: t.strip() != "" and not _parses(int, t)),
        "number": HOSTILE.filter(lambda t: t.strip() != "" and not _finite(t)),
        "json": st.one_of(
            HOSTILE.filter(lambda t: t.strip() != "" and not _parses(json.loads, t)),
            st.integers(33, 6000).map(lambda n: "[" * n + "]" * n),
            long,
        ),
    }
    if field.kind in kinds:
        return kinds[field.kind]
    if field.pattern:  # text or list: the schema's pattern
        pattern = re.compile(field.pattern)
        return st.one_of(
            long, HOSTILE.filter(lambda t: t.strip() != "" and not _all_match(pattern, field, t))
        )
    return long


def _parses(parse, text: str) -> bool:
    try:
        parse(text.strip())
    except (ValueError, RecursionError):
        return False
    return True


def _finite(text: str) -> bool:
    try:
        value = float(text.strip())
    except ValueError:
        return False
    return value == value and abs(value) != float("inf")


def _all_match(pattern: re.Pattern, field: forms.Field, text: str) -> bool:
    items = [text.strip()]
    if field.kind == "list":
        items = [i.strip() for i in text.split(",") if i.strip()]
    return all(pattern.search(i) for i in items)


TOP_BAD = {
    "mode": HOSTILE.filter(lambda t: t not in ("paper", "live")),
    "id": HOSTILE.filter(lambda t: t.strip() != "" and not ID_PATTERN.fullmatch(t.strip())),
    "ttl": HOSTILE.filter(
        lambda t: (
            t.strip() != ""
            and not (t.strip().isascii() and t.strip().isdigit() and 1 <= int(t.strip()) <= MAX_TTL)
        )
    ),
    "csrf": HOSTILE,
    "submission": HOSTILE.filter(lambda t: not SUBMISSION.match(t)),
    "intent": HOSTILE.filter(lambda t: t not in INTENTS),
    "confirm": HOSTILE.filter(lambda t: t.strip() != "LIVE"),  # with mode live
    "unknown": HOSTILE,
}


COMPLETE = [  # intents whose form as first shown is a valid message (no required field empty)
    i
    for i in INTENTS
    if not any(f.required and f.default is None for f in forms.walk(forms.form_fields(i)))
]


@pytest.mark.parametrize("intent", COMPLETE)
def test_the_untouched_form_publishes_once(offline, intent) -> None:
    """What the bad-field property starts from is accepted."""
    response, published = _post(offline, _fresh(offline.client, intent))
    assert response.status_code == 303
    assert [m["intent"] for m in published] == [intent]


def _form_fields() -> list[tuple[str, str]]:
    """(intent, field) for every top-level field and every params field of every intent."""
    return [
        (intent, name)
        for intent in INTENTS
        for name in [
            *TOP_BAD,
            *(f.name for f in forms.walk(forms.form_fields(intent)) if f.kind != "group"),
        ]
    ]


def _bad_value(intent: str, name: str) -> st.SearchStrategy[tuple[str, bool]]:
    """(a bad value, or any value given twice)."""
    if name in TOP_BAD:
        bad = TOP_BAD[name]
    else:
        bad = _bad_for(next(f for f in forms.walk(forms.form_fields(intent)) if f.name == name))
    return st.one_of(bad.map(lambda v: (v, False)), HOSTILE.map(lambda v: (v, True)))


@pytest.mark.parametrize(("intent", "name"), _form_fields())
@given(data=st.data())
@settings(PROPERTY, max_examples=15)
def test_a_bad_form_field_is_refused_and_nothing_is_published(offline, intent, name, data) -> None:
    value, twice = data.draw(_bad_value(intent, name))
    form = _fresh(offline.client, intent)
    if name == "unknown":
        name = "p.not-a-field" if value.startswith("p") else "x-" + value[:20]
    if name == "csrf" and value == form["csrf"]:
        value += "x"
    if name == "confirm":
        form["mode"] = "live"
    if twice:
        form.setlist(name, [*(form.getlist(name)[:1] or [value]), value])
    else:
        form.setlist(name, [value])
    response, published = _post(offline, form)
    assert 400 <= response.status_code < 500, (name, value, response.status_code)
    assert published == []


# -- the publish form: anything at all --------------------------------------------------------


@st.composite
def any_form(draw) -> tuple[str, list[tuple[str, str]]]:
    intent = draw(st.sampled_from(INTENTS))
    names = [f.name for f in forms.walk(forms.form_fields(intent))]
    name = st.one_of(st.sampled_from([*sorted(TOP_FIELDS), *names]), NAMES)
    return intent, draw(st.lists(st.tuples(name, HOSTILE, st.booleans()), max_size=8))


@given(any_form(), st.booleans())
@PROPERTY
def test_any_form_never_gives_a_5xx_and_publishes_only_a_valid_message(offline, case, keep) -> None:
    intent, changes = case
    form = _fresh(offline.client, intent) if keep else MultiDict()
    for name, value, replace in changes:
        if replace:
            form.setlist(name, [value])
        else:
            form.add(name, value)  # a second value where the form has one already
    response, published = _post(offline, form)
    if published:
        # the spy published only what build_message accepted: one message, and the redirect
        assert len(published) == 1 and response.status_code == 303
        assert published[0]["intent"] == form.get("intent")
    else:
        assert response.status_code != 303 or form.get("submission")  # a repeat of a form
