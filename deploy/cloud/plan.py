"""Plan, then apply: every resource is checked first; only what differs from the wish changes.

The way publisher/schedules.py plans Cloud Scheduler jobs: create what is missing, update what
drifted, delete what must go, leave the rest. A dry run checks nothing (it may not reach the
project at all) and shows every command that could run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from deploy.cloud.gcloud import Command, Gcloud

Facts = dict[str, str]
Commands = Callable[[Facts], list[Command]]


@dataclass(frozen=True)
class Seen:
    """What a check found: whether it exists, how it differs from the wish, facts for commands."""

    present: bool
    drift: tuple[str, ...] = ()
    facts: Facts = field(default_factory=dict)


Probe = Callable[[Gcloud], Seen]


def static(*commands: Command) -> Commands:
    return lambda _facts: list(commands)


def nothing(_facts: Facts) -> list[Command]:
    return []


@dataclass(frozen=True)
class Resource:
    """One thing in the project, with how to check, create, update and delete it.

    scope: `mode` (belongs to one worker), `shared` (by both modes: removed by the teardown of
    the last one), `kept` (never removed: data, enabled APIs). An empty `create` means the set-up
    cannot make it (a Cloud Run service: cloudbuild.yaml deploys it); resources that `need` it
    wait until it exists. `want=False` means it must not exist (an old, broader grant).
    """

    key: str
    probe: Probe
    create: Commands = nothing
    delete: Commands = nothing
    update: Commands | None = None
    scope: str = "mode"
    want: bool = True
    needs: tuple[str, ...] = ()
    dry_facts: Facts = field(default_factory=dict)
    note: str = ""
    always: bool = False  # its create command checks for itself: run it at every set-up


ACTIONS = ("create", "update", "delete", "apply")


@dataclass
class Step:
    resource: Resource
    action: str  # create | update | delete | ok | absent | missing | wait | later
    why: str = ""
    facts: Facts = field(default_factory=dict)

    def commands(self) -> list[Command]:
        r = self.resource
        build = {
            "create": r.create,
            "apply": r.create,
            "delete": r.delete,
            "update": r.update or r.create,
        }
        return build[self.action](self.facts) if self.action in build else []


@dataclass
class Plan:
    steps: list[Step]
    dry_run: bool

    def count(self, action: str) -> int:
        return sum(1 for s in self.steps if s.action == action)

    @property
    def changes(self) -> list[Step]:
        return [s for s in self.steps if s.action in ACTIONS or s.action == "later"]

    def summary(self) -> str:
        if self.dry_run:
            return f"{len(self.changes)} resources shown; nothing was checked or changed."
        parts = [f"{self.count(a)} to {a}" for a in ACTIONS if a != "apply" or self.count(a)]
        waiting = self.count("wait")
        tail = f", {waiting} waiting for a deploy" if waiting else ""
        return f"{', '.join(parts)}, {self.count('ok') + self.count('absent')} as wished{tail}."


def make_plan(
    resources: Sequence[Resource], gcloud: Gcloud, teardown: bool, keep_shared: bool
) -> Plan:
    """Check each resource (none in a dry run) and decide what to do with it."""
    chosen = [r for r in resources if _in_scope(r, teardown, keep_shared)]
    if teardown:
        chosen.reverse()
    steps: dict[str, Step] = {}
    for r in chosen:
        want = r.want and not teardown
        steps[r.key] = _decide(r, want, gcloud, steps)
    return Plan(list(steps.values()), gcloud.dry_run)


def _in_scope(r: Resource, teardown: bool, keep_shared: bool) -> bool:
    if not teardown:
        return True
    removable = bool(r.delete(dict(r.dry_facts)))
    return removable and (r.scope == "mode" or (r.scope == "shared" and not keep_shared))


def _decide(r: Resource, want: bool, gcloud: Gcloud, earlier: dict[str, Step]) -> Step:
    if want and r.always:
        return Step(r, "apply", "it checks for itself")
    if gcloud.dry_run:
        if not want:
            return Step(r, "delete", "if it exists", dict(r.dry_facts))
        if r.create is nothing and not r.needs:
            return Step(r, "missing", "deployed by cloudbuild.yaml")
        waits = [n for n in r.needs if n in earlier and earlier[n].action == "missing"]
        why = "once it is deployed" if waits else "if missing or different"
        return Step(r, "create", why, dict(r.dry_facts))
    if want:
        blocked = [
            n for n in r.needs if earlier.get(n) and earlier[n].action in ("missing", "wait")
        ]
        if blocked:
            return Step(r, "wait", f"needs {blocked[0]}: deploy, then run the set-up again")
        if any(earlier.get(n) and earlier[n].action in ("create", "later") for n in r.needs):
            return Step(r, "later", "checked once what it needs exists")
    seen = r.probe(gcloud)
    return _action(r, want, seen)


def _action(r: Resource, want: bool, seen: Seen) -> Step:
    if not want:
        return Step(r, "delete" if seen.present else "absent", "", seen.facts)
    if not seen.present:
        if r.create is nothing:
            return Step(r, "missing", "deployed by cloudbuild.yaml")
        return Step(r, "create", "", seen.facts)
    if seen.drift and r.update is not None:
        return Step(r, "update", "; ".join(seen.drift), seen.facts)
    return Step(r, "ok", "", seen.facts)


def show(plan: Plan, say: Callable[[str], None]) -> None:
    for s in plan.steps:
        why = f"  ({s.why})" if s.why else ""
        note = f"  [{s.resource.note}]" if s.resource.note and s.action == "create" else ""
        say(f"  {s.action:<8}{s.resource.key}{why}{note}")
    say(plan.summary())


def apply(plan: Plan, gcloud: Gcloud, say: Callable[[str], None]) -> None:
    """Run the planned changes in order; a step planned `later` is checked when its turn comes."""
    for step in plan.steps:
        if step.action == "later":
            gcloud.forget()
            decided = _action(step.resource, step.resource.want, step.resource.probe(gcloud))
            step.action, step.why, step.facts = decided.action, decided.why, decided.facts
        if step.action not in ACTIONS:
            continue
        say(f"==> {step.action} {step.resource.key}" + (f" ({step.why})" if step.why else ""))
        for command in step.commands():
            gcloud.run(command)
