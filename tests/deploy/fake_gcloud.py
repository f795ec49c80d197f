"""A stand-in for the gcloud CLI with a memory, for the set-up's tests (never the real gcloud).

Installed as `gcloud` on a test's PATH. It keeps what was created in a JSON state file
(FAKE_GCLOUD_STATE), answers `describe`, `list` and `get-iam-policy` from it the way gcloud does
(errors with NOT_FOUND, ALREADY_EXISTS), and logs every call's argv (and the standard input of
`--data-file=-`) to FAKE_GCLOUD_LOG. FAKE_GCLOUD_FAIL makes commands starting with those words
fail; FAKE_GCLOUD_FORBID makes any call at all fail (for dry runs).
"""

from __future__ import annotations

import base64
import json
import os
import sys
from collections.abc import Mapping
from typing import NoReturn

PROJECT_NUMBER = "123456789012"
VERBS = (
    "describe",
    "list",
    "create",
    "delete",
    "update",
    "enable",
    "get-iam-policy",
    "add-iam-policy-binding",
    "remove-iam-policy-binding",
    "add",
    "deploy",
)


class Refused(Exception):
    """gcloud's refusal: `ERROR: (gcloud) message` on standard error and a non-zero exit."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def fail(message: str, code: int = 1) -> NoReturn:
    raise Refused(message, code)


def parse(args: list[str]) -> tuple[list[str], dict[str, list]]:
    words = [a for a in args if not a.startswith("-")]
    flags: dict[str, list] = {}
    for a in args:
        if a.startswith("--"):
            key, eq, value = a[2:].partition("=")
            flags.setdefault(key, []).append(value if eq else True)
    return words, flags


def answer(args: list[str], env: Mapping[str, str], stdin: str) -> tuple[int, str, str]:
    """One call: its exit code, standard output and standard error. `stdin` is what the call was
    given on standard input, read only for `--data-file=-`, as gcloud does."""
    record: dict = {"argv": args}
    if "--data-file=-" in args:
        record["stdin"] = stdin
    with open(env["FAKE_GCLOUD_LOG"], "a") as log:
        log.write(json.dumps(record) + "\n")
    try:
        out = _changed_state(args, env)
    except Refused as refused:
        return refused.code, "", f"ERROR: (gcloud) {refused}\n"
    return 0, "" if out is None else f"{out}\n", ""


def _changed_state(args: list[str], env: Mapping[str, str]) -> str | None:
    if env.get("FAKE_GCLOUD_FORBID"):
        fail("this run must not call gcloud", 99)
    words, flags = parse(args)
    failing = env.get("FAKE_GCLOUD_FAIL", "")
    if failing and " ".join(words).startswith(failing):
        fail("PERMISSION_DENIED: the fake refuses this command")
    path = env["FAKE_GCLOUD_STATE"]
    state = {}
    if os.path.exists(path):
        with open(path) as f:
            state = json.load(f)
    for part in ("resources", "policies", "apis", "versions", "ttls", "indexes"):
        state.setdefault(part, {} if part in ("resources", "policies", "versions") else [])
    before = json.dumps(state, sort_keys=True)
    out = Cloud(state, words, flags).answer()
    if json.dumps(state, sort_keys=True) != before:
        with open(path, "w") as f:
            json.dump(state, f)
    if out is None:
        return None
    return out if isinstance(out, str) else formatted(out, flags)


def main() -> None:
    args = sys.argv[1:]
    code, out, err = answer(args, os.environ, sys.stdin.read() if "--data-file=-" in args else "")
    sys.stdout.write(out)
    sys.stderr.write(err)
    sys.exit(code)


def formatted(out, flags: dict[str, list]) -> str:
    """JSON, or gcloud's `--format=value(a.b,c[].d)` (a line per item, tab between fields, `;`
    between a list's values), sorted by `--sort-by=[~]field`."""
    items = out if isinstance(out, list) else [out]
    sort = (flags.get("sort-by") or [None])[-1]
    if sort:
        items = sorted(items, key=lambda i: str(pick(i, sort.lstrip("~"))), reverse=sort[0] == "~")
    shape = str((flags.get("format") or [""])[-1])
    if not shape.startswith("value("):
        return json.dumps(items if isinstance(out, list) else out)
    fields = shape[len("value(") : -1].split(",")
    return "\n".join("\t".join(str(pick(i, f)) for f in fields) for i in items)


def pick(item, path: str):
    values = [item]
    for part in path.split("."):
        many = part.endswith("[]")
        part = part.removesuffix("[]")
        values = [v.get(part) for v in values if isinstance(v, dict)]
        if many:
            values = [x for v in values for x in (v or [])]
    values = [v for v in values if v is not None]
    if len(values) == 1 and not path.count("[]"):
        return values[0]
    return ";".join(str(v) for v in values)


class Cloud:
    def __init__(self, state: dict, words: list[str], flags: dict[str, list]) -> None:
        self.state, self.flags = state, flags
        if words and words[0] == "beta":
            words = words[1:]
        at = next((i for i, w in enumerate(words) if w in VERBS), None)
        if at is None:
            fail(f"the fake does not know `{' '.join(words)}`", 2)
        self.group, self.verb = " ".join(words[:at]), words[at]
        self.rest = words[at + 1 :]
        self.project = self.flag("project") or "none"

    def flag(self, name: str):
        return (self.flags.get(name) or [None])[-1]

    @property
    def name(self) -> str:
        if self.group == "iam service-accounts" and self.verb == "create":
            return f"{self.rest[0]}@{self.project}.iam.gserviceaccount.com"
        if self.group == "firestore databases":
            return self.flag("database")
        if self.group == "iap web":
            return f"cloud-run/{self.flag('service')}"
        return self.rest[0] if self.rest else ""

    @property
    def key(self) -> str:
        return f"{self.group} {self.name}"

    def answer(self):
        special = {
            "projects describe": lambda: {"projectNumber": PROJECT_NUMBER},
            "services enable": self.enable,
            "services list": lambda: [{"config": {"name": a}} for a in self.state["apis"]],
            "services identity create": lambda: {"email": "service-agent"},
            "firestore fields ttls update": self.ttl,
            "firestore fields ttls list": self.ttls,
            "secrets versions add": self.add_version,
            "secrets versions list": self.versions,
            "scheduler jobs list": self.jobs,
            "firestore indexes composite create": self.add_index,
            "firestore indexes composite list": lambda: self.state["indexes"],
            "monitoring channels create": lambda: self.create_named("notificationChannels"),
            "monitoring channels list": lambda: self.listed("monitoring channels "),
            "monitoring policies create": lambda: self.create_named("alertPolicies"),
            "monitoring policies list": lambda: self.listed("monitoring policies "),
        }
        handler = special.get(f"{self.group} {self.verb}")
        if handler:
            return handler()
        if self.verb.endswith("iam-policy") or self.verb.endswith("policy-binding"):
            return self.policy()
        return getattr(self, self.verb.replace("-", "_"))()

    # -- resources -----------------------------------------------------------------------------

    def exists(self, key: str | None = None) -> bool:
        key = key or self.key
        if key.startswith("projects "):
            return True
        if key.startswith("iap web cloud-run/"):
            return self.exists("run services " + key.split("/", 1)[1])
        return key in self.state["resources"]

    def missing(self):
        fail(f"NOT_FOUND: {self.key} was not found")

    def create(self):
        self.scheduler_target()
        if self.exists():
            fail(f"ALREADY_EXISTS: {self.key} already exists")
        self.state["resources"][self.key] = {k: v[-1] for k, v in self.flags.items()}
        if self.group == "eventarc triggers":
            sub = f"eventarc-{self.flag('location')}-{self.name}-sub-042"
            self.state["resources"][f"pubsub subscriptions {sub}"] = {
                "topic": self.flag("transport-topic")
            }

    def scheduler_target(self) -> None:
        if self.group == "scheduler jobs" and self.rest[:1] == ["pubsub"]:
            self.rest = self.rest[1:]

    def update(self):
        self.scheduler_target()
        if not self.exists():
            self.missing()
        stored = self.state["resources"][self.key]
        stored.update({k: v[-1] for k, v in self.flags.items()})
        if "clear-dead-letter-policy" in self.flags:
            stored.pop("dead-letter-topic", None)
            stored.pop("max-delivery-attempts", None)

    def delete(self):
        if self.group == "run revisions":
            for stored in self.state["resources"].values():
                kept = [r for r in stored.get("revisions", []) if r["name"] != self.name]
                if len(kept) != len(stored.get("revisions", [])):
                    stored["revisions"] = kept
                    return
            self.missing()
        if not self.exists():
            self.missing()
        del self.state["resources"][self.key]
        self.state["policies"].pop(self.key, None)

    # -- Cloud Run deploys and their revisions (cloudbuild.yaml's deploy and prune steps) ----------

    def deploy(self):
        if self.group != "run":
            fail(f"the fake does not know `{self.group} deploy`", 2)
        key = f"run services {self.name}"
        stored = self.state["resources"].setdefault(key, {})
        stored.update({k: v[-1] for k, v in self.flags.items()})
        serial = self.state.setdefault("serial", 0) + 1
        self.state["serial"] = serial
        revision = f"{self.name}-{serial:05d}-fak"
        stored.setdefault("revisions", []).append(
            {"name": revision, "image": self.flag("image"), "created": serial}
        )
        stored["serving"] = revision

    def revisions(self) -> list:
        wanted = self.flag("service")
        out = []
        for key, stored in self.state["resources"].items():
            if not key.startswith("run services ") or wanted not in (None, key[13:]):
                continue
            for r in stored.get("revisions", []):
                out.append(
                    {
                        "metadata": {"name": r["name"], "creationTimestamp": f"{r['created']:08d}"},
                        "status": {"imageDigest": f"{r['image']}@sha256:{r['created']:064x}"},
                    }
                )
        return out

    def list(self):
        if self.group == "run revisions":
            return self.revisions()
        if self.group == "artifacts docker images":
            return []  # pushes go to cloudbuild's local store, not to this fake
        fail(f"the fake does not know `{self.group} list`", 2)

    def describe(self):
        if self.group == "run revisions":
            fail(f"the fake does not know `{self.group} describe`", 2)
        if not self.exists():
            self.missing()
        stored = self.state["resources"].get(self.key, {})
        if self.group == "pubsub subscriptions":
            return self.subscription(stored)
        if self.group == "run services":
            iap = {"run.googleapis.com/iap-enabled": "true"} if stored.get("iap") else {}
            serving = stored.get("serving")
            pairs = [p.split("=", 1) for p in (stored.get("update-env-vars") or "").split(",") if p]
            env = [{"name": k, "value": v} for k, v in pairs]
            return {
                "spec": {"template": {"spec": {"containers": [{"env": env}]}}},
                "metadata": {"name": self.name, "annotations": iap},
                "status": {
                    "traffic": [{"revisionName": serving, "percent": 100}] if serving else []
                },
            }
        if self.group == "compute addresses":  # a reserved address has its IP
            internal = "subnet" in stored
            return {"name": self.name, "address": "10.172.0.7" if internal else "203.0.113.7"}
        if self.group == "logging metrics":
            return {"name": self.name, "filter": stored.get("log-filter")}
        if self.group == "eventarc triggers":
            sub = f"eventarc-{self.flag('location')}-{self.name}-sub-042"
            return {"transport": {"pubsub": {"subscription": f"projects/p/subscriptions/{sub}"}}}
        return {"name": self.name, **stored}

    def full_topic(self, topic: str | None) -> str | None:
        if not topic or topic.startswith("projects/"):
            return topic
        return f"projects/{self.project}/topics/{topic}"

    def subscription(self, s: dict) -> dict:
        out: dict = {
            "name": f"projects/{self.project}/subscriptions/{self.name}",
            "topic": self.full_topic(s.get("topic")),
            "ackDeadlineSeconds": int(s.get("ack-deadline") or 10),
        }
        if s.get("push-endpoint"):
            token = {
                "serviceAccountEmail": s.get("push-auth-service-account"),
                "audience": s.get("push-auth-token-audience"),
            }
            out["pushConfig"] = {"pushEndpoint": s["push-endpoint"], "oidcToken": token}
        if s.get("min-retry-delay"):
            out["retryPolicy"] = {
                "minimumBackoff": s["min-retry-delay"],
                "maximumBackoff": s.get("max-retry-delay"),
            }
        if s.get("dead-letter-topic"):
            out["deadLetterPolicy"] = {
                "deadLetterTopic": self.full_topic(s["dead-letter-topic"]),
                "maxDeliveryAttempts": int(s.get("max-delivery-attempts") or 5),
            }
        return out

    # -- IAM -------------------------------------------------------------------------------------

    def policy(self):
        if not self.exists():
            self.missing()
        bindings = self.state["policies"].setdefault(self.key, {})
        role, member = self.flag("role"), self.flag("member")
        if self.verb == "add-iam-policy-binding":
            members = bindings.setdefault(role, [])
            if member not in members:
                members.append(member)
        elif self.verb == "remove-iam-policy-binding":
            if member not in bindings.get(role, []):
                fail(f"NOT_FOUND: policy binding {role} {member} not found")
            bindings[role].remove(member)
        listed = [{"role": r, "members": m} for r, m in bindings.items() if m]
        return {"bindings": listed, "etag": "BwX"}

    # -- lists -----------------------------------------------------------------------------------

    def enable(self):
        for api in self.rest:
            if api not in self.state["apis"]:
                self.state["apis"].append(api)

    def ttl(self):
        group = self.flag("collection-group")
        if group not in self.state["ttls"]:
            self.state["ttls"].append(group)

    def ttls(self):
        group = self.flag("collection-group")
        if group not in self.state["ttls"]:
            return []
        field = f"projects/p/databases/(default)/collectionGroups/{group}/fields/expireAt"
        return [{"name": field}]

    def add_version(self):
        if not self.exists(f"secrets {self.name}"):
            fail(f"NOT_FOUND: secret {self.name}")
        self.state["versions"][self.name] = self.state["versions"].get(self.name, 0) + 1

    def versions(self):
        count = self.state["versions"].get(self.name, 0)
        return [{"name": f"{self.name}/versions/{n + 1}", "state": "ENABLED"} for n in range(count)]

    def jobs(self):
        out = []
        for key, s in self.state["resources"].items():
            if key.startswith("scheduler jobs "):
                name = key.split(" ", 2)[2]
                raw = s.get("attributes") or s.get("update-attributes") or ""
                attributes = dict(pair.split("=", 1) for pair in raw.split(",") if pair)
                out.append(
                    {
                        "name": f"projects/{self.project}/locations/x/jobs/{name}",
                        "schedule": s.get("schedule"),
                        "timeZone": s.get("time-zone"),
                        "description": s.get("description"),
                        "pubsubTarget": {
                            "topicName": s.get("topic"),
                            "data": base64.b64encode(s.get("message-body", "").encode()).decode(),
                            "attributes": attributes,
                        },
                    }
                )
        return out

    # -- Cloud Monitoring: ids made by the server, found by display name ------------------------

    def create_named(self, kind: str) -> dict:
        serial = self.state.setdefault("serial", 0) + 1
        self.state["serial"] = serial
        name = f"projects/{self.project}/{kind}/{serial}"
        stored = {k: v[-1] for k, v in self.flags.items() if k != "project"}
        self.state["resources"][f"{self.group} {name}"] = stored
        return {"name": name}

    def listed(self, prefix: str) -> list:
        wanted = str(self.flag("filter") or "")
        out = []
        for key, stored in self.state["resources"].items():
            if not key.startswith(prefix):
                continue
            item = {"name": key[len(prefix) :]}
            if "policy" in stored:
                item.update(json.loads(stored["policy"]))
            else:
                labels = stored.get("update-channel-labels") or stored.get("channel-labels") or ""
                item["displayName"] = stored.get("display-name")
                item["labels"] = dict(p.split("=", 1) for p in labels.split(",") if p)
            if wanted in ("", f'displayName="{item.get("displayName")}"'):
                out.append(item)
        return out

    def add_index(self):
        fields = []
        for config in self.flags.get("field-config", []):
            parts = dict(p.split("=", 1) for p in config.split(","))
            fields.append({"fieldPath": parts["field-path"], "order": parts["order"].upper()})
        group = self.flag("collection-group")
        name = f"projects/p/databases/(default)/collectionGroups/{group}/indexes/{len(fields)}x"
        self.state["indexes"].append({"name": name, "fields": fields})


if __name__ == "__main__":
    main()
