"""IAM bindings as resources: one role for one member on one resource."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.plan import Facts, Probe, Resource, Seen


@dataclass(frozen=True)
class Target:
    """Where a binding lives: the gcloud group, the resource's name and its location flags.

    `name` may hold `{fact}` placeholders, filled from the facts its probe found (the Eventarc
    trigger's subscription has a name only Eventarc knows).
    """

    label: str
    group: tuple[str, ...]
    name: str = ""
    flags: tuple[str, ...] = ()
    project_level: bool = False

    def argv(self, verb: str, facts: Facts) -> list[str]:
        name = [self.name.format(**facts)] if self.name else []
        return [*self.group, verb, *name, *self.flags]


def policy_has(policy: Any, role: str, member: str) -> bool:
    bindings = (policy or {}).get("bindings") or []
    return any(b.get("role") == role and member in (b.get("members") or []) for b in bindings)


def binding(
    role: str,
    member: str,
    target: Target,
    scope: str = "mode",
    want: bool = True,
    needs: tuple[str, ...] = (),
    note: str = "",
    locate: Probe | None = None,
) -> Resource:
    """`locate` finds the facts the target's name needs (else the name is fixed)."""

    def probe(gcloud: Gcloud) -> Seen:
        facts: Facts = {}
        if locate is not None:
            found = locate(gcloud)
            if not found.present:
                return Seen(False, facts=found.facts)
            facts = found.facts
        policy = gcloud.read_json(*target.argv("get-iam-policy", facts))
        return Seen(policy_has(policy, role, member), facts=facts)

    def change(verb: str):
        def commands(facts: Facts) -> list[Command]:
            condition = ["--condition=None"] if target.project_level else []
            return [
                Command(
                    (
                        *target.argv(verb, facts),
                        f"--member={member}",
                        f"--role={role}",
                        *condition,
                        "--format=none",
                    )
                )
            ]

        return commands

    who = member.split(":", 1)[-1]
    return Resource(
        key=f"{role} for {who} on {target.label}",
        probe=probe,
        create=change("add-iam-policy-binding"),
        delete=change("remove-iam-policy-binding"),
        scope=scope,
        want=want,
        needs=needs,
        note=note,
        dry_facts={"subscription": "TRIGGER_SUBSCRIPTION"},
    )


def project(project_id: str) -> Target:
    return Target(f"project {project_id}", ("projects",), project_id, project_level=True)


def topic(name: str) -> Target:
    return Target(f"topic {name}", ("pubsub", "topics"), name)


def subscription(name: str) -> Target:
    return Target(f"subscription {name}", ("pubsub", "subscriptions"), name)


def service_account(email: str) -> Target:
    return Target(f"service account {email.split('@')[0]}", ("iam", "service-accounts"), email)


def secret(name: str) -> Target:
    return Target(f"secret {name}", ("secrets",), name)


def run_service(name: str, region: str) -> Target:
    return Target(f"service {name}", ("run", "services"), name, (f"--region={region}",))


def repository(name: str, region: str) -> Target:
    return Target(
        f"repository {name}", ("artifacts", "repositories"), name, (f"--location={region}",)
    )


def bucket(url: str) -> Target:
    return Target(f"bucket {url}", ("storage", "buckets"), url)


def iap_service(name: str, region: str) -> Target:
    return Target(
        f"IAP of service {name}",
        ("beta", "iap", "web"),
        flags=("--resource-type=cloud-run", f"--service={name}", f"--region={region}"),
    )
