"""Cloud Monitoring alerts (`--alert-email ADDRESS`): an email notification channel, log-based
metrics on the worker's structured log lines, and four alert policies.

Made with gcloud like every other resource of the set-up (no new client library, the same
plan/apply/dry-run and the same recording fake in the tests): `gcloud logging metrics`,
`gcloud beta monitoring channels` and `gcloud monitoring policies` with the policy as JSON.
Policies and channels have server-made ids, so each is found by its display name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.options import Options
from deploy.cloud.plan import Facts, Resource, Seen, static
from worker import names

CHANNEL = "ib-worker alerts"  # the channel's display name (one per project)
SILENT_CODE = "schedule-silent"  # worker/intents/watch.py
SECOND_FACTOR_CODE = "second-factor-waiting"  # worker/gateway/second_factor.py
WATCH_ABSENT_SECONDS = 1200  # the watch runs every 5 minutes (publisher/schedules.yaml)
FIVE_XX_PER_SECOND = 0.02  # about 6 in 5 minutes: a few 503s asking for redelivery are normal


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    condition: str  # what the worker's log line carries, in Cloud Logging's filter language


def metrics(mode: str) -> list[Metric]:
    """The log-based counters of one worker (worker/logs.py writes JSON lines to stdout)."""
    return [
        Metric(
            f"ib-failed-results-{mode}",
            f"results of the {mode} worker that ended failed",
            'jsonPayload.status="failed"',
        ),
        Metric(
            f"ib-silent-schedules-{mode}",
            f"scheduled runs the {mode} watch found without a result",
            f'jsonPayload.code="{SILENT_CODE}"',
        ),
        Metric(
            f"ib-watch-runs-{mode}",
            f"runs of the {mode} worker's watch intent",
            'jsonPayload.watch="done"',
        ),
        Metric(
            f"ib-second-factor-{mode}",
            f"logins of the {mode} gateway waiting for second-factor approval",
            f'jsonPayload.code="{SECOND_FACTOR_CODE}"',
        ),
    ]


def log_filter(mode: str, condition: str) -> str:
    service = names.service(mode)
    return (
        f'resource.type="cloud_run_revision" AND resource.labels.service_name="{service}" '
        f"AND {condition}"
    )


def _user_metric(name: str) -> str:
    return (
        f'metric.type="logging.googleapis.com/user/{name}" AND resource.type="cloud_run_revision"'
    )


def _threshold(title: str, filter_: str, aligner: str, value: float, duration: str) -> dict:
    return {
        "displayName": title,
        "conditionThreshold": {
            "filter": filter_,
            "aggregations": [
                {
                    "alignmentPeriod": "300s",
                    "perSeriesAligner": aligner,
                    "crossSeriesReducer": "REDUCE_SUM",
                }
            ],
            "comparison": "COMPARISON_GT",
            "thresholdValue": value,
            "duration": duration,
            "trigger": {"count": 1},
        },
    }


def policies(mode: str) -> dict[str, dict[str, Any]]:
    """Display name -> the policy's body (without its channel), for one worker."""
    service = names.service(mode)
    failed, silent, watch, second_factor = (m.name for m in metrics(mode))
    return {
        f"ib-{mode}: failed results": {
            "combiner": "OR",
            "conditions": [
                _threshold("a result ended failed", _user_metric(failed), "ALIGN_SUM", 0, "0s")
            ],
        },
        f"ib-{mode}: login waiting for approval": {
            "combiner": "OR",
            "conditions": [
                _threshold(
                    "approve the IB login on IBKR Mobile",
                    _user_metric(second_factor),
                    "ALIGN_SUM",
                    0,
                    "0s",
                )
            ],
        },
        f"ib-{mode}: worker 5xx rate": {
            "combiner": "OR",
            "conditions": [
                _threshold(
                    f"5xx answers above {FIVE_XX_PER_SECOND}/s for 5 minutes",
                    'metric.type="run.googleapis.com/request_count" AND '
                    f'resource.type="cloud_run_revision" AND '
                    f'resource.labels.service_name="{service}" AND '
                    'metric.labels.response_code_class="5xx"',
                    "ALIGN_RATE",
                    FIVE_XX_PER_SECOND,
                    "300s",
                )
            ],
        },
        f"ib-{mode}: no result for a scheduled job": {
            "combiner": "OR",
            "conditions": [
                _threshold(
                    "the watch found a scheduled run without a result",
                    _user_metric(silent),
                    "ALIGN_SUM",
                    0,
                    "0s",
                ),
                {
                    "displayName": f"the watch itself ran not once in {WATCH_ABSENT_SECONDS} s",
                    "conditionAbsent": {
                        "filter": _user_metric(watch),
                        "aggregations": [
                            {"alignmentPeriod": "300s", "perSeriesAligner": "ALIGN_SUM"}
                        ],
                        "duration": f"{WATCH_ABSENT_SECONDS}s",
                    },
                },
            ],
        },
    }


def shared_policies() -> dict[str, dict[str, Any]]:
    keep = names.DEAD_LETTER_KEEP_SUBSCRIPTION
    return {
        "ib-worker: dead letters waiting": {
            "combiner": "OR",
            "conditions": [
                _threshold(
                    f"messages in {keep} (read, then acknowledge them)",
                    'metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages"'
                    ' AND resource.type="pubsub_subscription" AND '
                    f'resource.labels.subscription_id="{keep}"',
                    "ALIGN_MAX",
                    0,
                    "0s",
                )
            ],
        }
    }


def _channels(gcloud: Gcloud) -> list[dict[str, Any]]:
    return (
        gcloud.read_json(
            "beta", "monitoring", "channels", "list", f'--filter=displayName="{CHANNEL}"'
        )
        or []
    )


def channel(o: Options) -> Resource:
    email = o.alert_email

    def probe(gcloud: Gcloud) -> Seen:
        found = _channels(gcloud)
        facts = {"channels": " ".join(c["name"] for c in found)}
        have = {(c.get("labels") or {}).get("email_address") for c in found}
        drift = () if not email or have == {email} else (f"sends to {', '.join(map(str, have))}",)
        return Seen(bool(found), drift, facts)

    def update(facts: Facts) -> list[Command]:
        return [
            Command.of(
                "beta",
                "monitoring",
                "channels",
                "update",
                name,
                f"--update-channel-labels=email_address={email}",
            )
            for name in facts["channels"].split()
        ]

    return Resource(
        key=f"notification channel {CHANNEL!r}" + (f" to {email}" if email else ""),
        probe=probe,
        create=static(
            Command.of(
                "beta",
                "monitoring",
                "channels",
                "create",
                f"--display-name={CHANNEL}",
                "--type=email",
                f"--channel-labels=email_address={email}",
            )
        ),
        update=update,
        delete=lambda facts: [
            Command.of("beta", "monitoring", "channels", "delete", name)
            for name in facts.get("channels", "").split()
        ],
        scope="shared",
        dry_facts={"channels": "CHANNEL"},
    )


def metric(o: Options, m: Metric) -> Resource:
    wanted = log_filter(o.mode, m.condition)

    def probe(gcloud: Gcloud) -> Seen:
        found = gcloud.read_json("logging", "metrics", "describe", m.name)
        if found is None:
            return Seen(False)
        drift = () if found.get("filter") == wanted else ("its log filter differs",)
        return Seen(True, drift)

    def made(verb: str) -> Command:
        return Command.of(
            "logging",
            "metrics",
            verb,
            m.name,
            f"--description={m.description}",
            f"--log-filter={wanted}",
        )

    return Resource(
        key=f"log-based metric {m.name}",
        probe=probe,
        create=static(made("create")),
        update=static(made("update")),
        delete=static(Command.of("logging", "metrics", "delete", m.name)),
    )


def policy(title: str, body: dict[str, Any], scope: str, needs: tuple[str, ...]) -> Resource:
    def probe(gcloud: Gcloud) -> Seen:
        found = (
            gcloud.read_json("monitoring", "policies", "list", f'--filter=displayName="{title}"')
            or []
        )
        channels = [c["name"] for c in _channels(gcloud)]
        facts = {"policies": " ".join(p["name"] for p in found), "channels": " ".join(channels)}
        if not found:
            return Seen(False, facts=facts)
        drift = [
            "its conditions differ"
            for p in found
            if _conditions(p.get("conditions")) != _conditions(body["conditions"])
        ] + [
            "it notifies another channel"
            for p in found
            if sorted(p.get("notificationChannels") or []) != sorted(channels)
        ]
        return Seen(True, tuple(dict.fromkeys(drift)), facts)

    def document(facts: Facts) -> str:
        whole = {"displayName": title, **body, "notificationChannels": facts["channels"].split()}
        return json.dumps(whole, separators=(",", ":"), sort_keys=True)

    return Resource(
        key=f"alert policy {title!r}",
        probe=probe,
        create=lambda facts: [
            Command.of("monitoring", "policies", "create", f"--policy={document(facts)}")
        ],
        update=lambda facts: [
            Command.of("monitoring", "policies", "update", name, f"--policy={document(facts)}")
            for name in facts["policies"].split()
        ],
        delete=lambda facts: [
            Command.of("monitoring", "policies", "delete", name)
            for name in facts.get("policies", "").split()
        ],
        scope=scope,
        needs=needs,
        dry_facts={"policies": "POLICY", "channels": "CHANNEL"},
    )


def _conditions(conditions: Any) -> list[tuple[str, str]]:
    """What makes a condition this one: its name and its filter."""
    out = []
    for c in conditions or []:
        inner = c.get("conditionThreshold") or c.get("conditionAbsent") or {}
        out.append((c.get("displayName", ""), inner.get("filter", "")))
    return sorted(out)


def resources(o: Options) -> list[Resource]:
    """With --alert-email: everything; in a teardown: the same list, to remove what exists."""
    if not o.alert_email and not o.teardown:
        return []
    the_channel = channel(o)
    counters = [metric(o, m) for m in metrics(o.mode)]
    needs = (the_channel.key, *(c.key for c in counters))
    return [
        the_channel,
        *counters,
        *(policy(t, b, "mode", needs) for t, b in policies(o.mode).items()),
        *(policy(t, b, "shared", (the_channel.key,)) for t, b in shared_policies().items()),
    ]
