"""`deploy/setup.sh`, i.e. `python -m deploy.cloud`: plan the set-up (or teardown), then apply."""

from __future__ import annotations

import sys
from dataclasses import dataclass

from deploy.cloud import credentials, plan, resources
from deploy.cloud.gcloud import Gcloud, InputError, SetupError, unexpected
from deploy.cloud.options import Options, UsageError, parse
from worker import names

SECRET_VALUE = "a value of secret"


def say(line: str = "") -> None:
    print(line, flush=True)


@dataclass
class Secret:
    """The credentials, read once before the first change and handed to gcloud's stdin."""

    value: str | None = None

    def __call__(self) -> str:
        if self.value is None:
            raise AssertionError("the credentials were not read before applying")
        return self.value


def project_number(o: Options, gcloud: Gcloud) -> str:
    if o.dry_run:
        return "PROJECT_NUMBER"
    found = gcloud.read_json("projects", "describe", o.project)
    number = str((found or {}).get("projectNumber") or "")
    if not number.isdigit():
        raise SetupError(
            f"project {o.project} cannot be read: check the id and `gcloud auth login`"
        )
    return number


def other_mode_set_up(o: Options, gcloud: Gcloud) -> bool:
    account = o.email(names.worker_account(o.other_mode))
    return gcloud.read_json("iam", "service-accounts", "describe", account) is not None


def confirm_teardown(o: Options) -> None:
    if o.dry_run or o.yes:
        return
    if not sys.stdin.isatty():
        raise UsageError("--teardown deletes resources: add --yes to confirm")
    sys.stderr.write(
        f"Delete the {o.mode} worker's resources in {o.project}? Type the project id: "
    )
    sys.stderr.flush()
    if sys.stdin.readline().strip() != o.project:
        raise UsageError("not confirmed")


def read_secret(o: Options, the_plan: plan.Plan, secret: Secret) -> None:
    """Read the credentials before anything changes, only when a value must be added."""
    steps = [s for s in the_plan.steps if s.resource.key.startswith(SECRET_VALUE)]
    if o.dry_run or not steps or steps[0].action not in ("create", "later"):
        return
    secret.value = credentials.read(o.mode)
    if secret.value is None:
        steps[0].action, steps[0].why = "skipped", "no value given"


def setup(o: Options, gcloud: Gcloud) -> None:
    secret = Secret()
    listed = resources.everything(o, project_number(o, gcloud), secret)
    say(
        f"Setting up {o.project} ({o.region}) for the {o.mode} worker "
        f"{names.service(o.mode)}, delivery {o.delivery}:"
    )
    the_plan = plan.make_plan(listed, gcloud, teardown=False, keep_shared=True)
    plan.show(the_plan, say)
    read_secret(o, the_plan, secret)
    plan.apply(the_plan, gcloud, say)
    _after_setup(o, the_plan)


def _after_setup(o: Options, the_plan: plan.Plan) -> None:
    secret = names.credentials_secret(o.mode)
    if any(s.action == "skipped" for s in the_plan.steps):
        say("\nNo credentials given: add them before the first deploy with")
        say(
            '  printf \'%s\' \'{"userid": "...", "password": "..."}\' | '
            f"gcloud secrets versions add {secret} --data-file=- --project={o.project}"
        )
    waiting = [s.resource.key for s in the_plan.steps if s.action == "wait"]
    if waiting or o.dry_run:
        say(
            "\nWhat needs a deployed service waits for it: after the first deploy, run this "
            "again" + (f" ({len(waiting)} waiting)." if waiting else ".")
        )
    deployer = f"projects/{o.project}/serviceAccounts/{o.email(names.DEPLOYER_ACCOUNT)}"
    say("\nNext: deploy with cloudbuild.yaml (docs/deployment.md, 4. Deploy):")
    say(f"  gcloud builds submit --region={o.region} --config=cloudbuild.yaml \\")
    say(f"    --project={o.project} \\")
    say(f"    --service-account={deployer} \\")
    say(
        "    --substitutions=SHORT_SHA=$(git rev-parse --short HEAD),"
        f"_REGION={o.region},_TRADING_MODE={o.mode},_REPOSITORY={o.repository}"
    )


def teardown(o: Options, gcloud: Gcloud) -> None:
    confirm_teardown(o)
    listed = resources.everything(o, project_number(o, gcloud), Secret())
    keep_shared = not o.dry_run and other_mode_set_up(o, gcloud)
    say(f"Tearing down the {o.mode} worker {names.service(o.mode)} in {o.project} ({o.region}):")
    if keep_shared:
        say(f"kept: the {o.other_mode} worker is set up and uses the shared resources")
    elif o.dry_run:
        say(f"(shared resources only when the {o.other_mode} worker is not set up)")
    the_plan = plan.make_plan(listed, gcloud, teardown=True, keep_shared=keep_shared)
    plan.show(the_plan, say)
    plan.apply(the_plan, gcloud, say)
    say("\nkept: the Firestore database (it holds the intents' records); to delete it:")
    say(f"  gcloud firestore databases delete --database='(default)' --project={o.project}")
    say(f"kept: the enabled APIs and gs://{o.project}_cloudbuild")


def main(argv: list[str] | None = None) -> int:
    gcloud: Gcloud | None = None
    try:
        o = parse(sys.argv[1:] if argv is None else argv)
        gcloud = Gcloud(o.project, o.dry_run, say)
        if o.dry_run:
            say("DRY RUN: no gcloud command runs; every command that could run is shown.")
        (teardown if o.teardown else setup)(o, gcloud)
        return 0
    except UsageError as exc:
        print(f"setup.sh: error: {exc}\nRun 'deploy/setup.sh --help' for usage.", file=sys.stderr)
        return 2
    except (AttributeError, TypeError, KeyError, IndexError) as exc:
        if gcloud is None or gcloud.last_read is None:
            raise
        # a field of the last JSON read was not what the set-up expects (an object, a string)
        read, text = gcloud.last_read
        error = SetupError(unexpected(read, text, f"not in the expected form ({exc!r})"))
        print(f"setup.sh: error: {error}", file=sys.stderr)
        print("Everything done so far is kept; run it again once fixed.", file=sys.stderr)
        return 1
    except SetupError as exc:
        print(f"setup.sh: error: {exc}", file=sys.stderr)
        if not isinstance(exc, InputError):
            print("Everything done so far is kept; run it again once fixed.", file=sys.stderr)
        return 2 if isinstance(exc, InputError) else 1
    except KeyboardInterrupt:
        print("\nsetup.sh: interrupted; run it again to finish.", file=sys.stderr)
        return 130
