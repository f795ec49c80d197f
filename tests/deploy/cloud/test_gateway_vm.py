"""deploy/setup.sh --gateway always-on: the gateway VM, its own service account and secret access,
the firewall, the static IP and the worker's external settings, against the recording fake
gcloud (tests/deploy/fake_gcloud.py); teardown removes all of it."""

from __future__ import annotations

import pytest

from deploy.cloud.options import UsageError, parse
from tests.deploy.test_setup import DEMO, FAKE_CREDENTIALS, FAKE_PASSWORD, FAKE_USER, Sandbox, find

LIVE = (*DEMO, "--mode", "live", "--gateway", "always-on")
VM_ACCOUNT = "ib-gateway-live@demo-proj.iam.gserviceaccount.com"


@pytest.fixture
def sandbox(tmp_path) -> Sandbox:
    return Sandbox(tmp_path)


def test_the_live_dry_run_lists_the_vm_its_account_the_firewall_the_ip_and_the_worker(sandbox):
    run = sandbox.run(*LIVE, "--dry-run", stdin=FAKE_CREDENTIALS, FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 0, run.stderr
    assert run.calls == []
    cmds = run.shown
    (vm,) = find(cmds, "compute", "instances", "create", "ib-gateway-live")
    for flag in (
        "--zone=europe-west6-b",
        "--machine-type=e2-small",
        "--image-family=cos-stable",
        "--image-project=cos-cloud",
        f"--service-account={VM_ACCOUNT}",
        "--tags=ib-gateway-live",
        "--address=ib-gateway-live",
        "--metadata-from-file=user-data=deploy/cloud/gateway-vm.cloud-init.yaml",
    ):
        assert flag in vm, flag
    metadata = next(a for a in vm if a.startswith("--metadata="))
    assert "ib-secret=ib-credentials-live" in metadata
    assert "ib-restart-time=23:15" in metadata
    assert "ib-weekly-closedown=Sun 03:00" in metadata  # IBC's ClosedownAt, New York
    assert "ib-notify-secret" not in metadata  # no --notifier: no webhook to read
    assert find(cmds, "iam", "service-accounts", "create", "ib-gateway-live")
    granted = [c for c in cmds if f"--member=serviceAccount:{VM_ACCOUNT}" in c]
    (reads,) = [c for c in granted if c[0] == "secrets"]  # one secret, nothing project-wide
    assert reads[:3] == ["secrets", "add-iam-policy-binding", "ib-credentials-live"]
    assert "--role=roles/secretmanager.secretAccessor" in reads
    project_roles = [a for c in granted if c[0] == "projects" for a in c if a.startswith("--role")]
    assert project_roles == ["--role=roles/logging.logWriter"]
    (rule,) = find(cmds, "compute", "firewall-rules", "create", "ib-gateway-live-api")
    for flag in (
        "--rules=tcp:4001",
        "--source-tags=ib-worker-live",
        "--target-tags=ib-gateway-live",
    ):
        assert flag in rule, flag
    assert not [a for a in rule if a.startswith("--source-ranges")]
    # The default network's default-allow-internal (priority 65534) lets every address of the
    # VPC reach every port: a deny rule for the API port keeps all but the worker's tag out,
    # below the allow rule's priority and above the default one's.
    (deny,) = find(cmds, "compute", "firewall-rules", "create", "ib-gateway-live-api-deny")
    for flag in (
        "--action=DENY",
        "--rules=tcp:4001",
        "--source-ranges=0.0.0.0/0",
        "--target-tags=ib-gateway-live",
    ):
        assert flag in deny, flag
    allow_priority = int(next(a for a in rule if a.startswith("--priority="))[11:])
    deny_priority = int(next(a for a in deny if a.startswith("--priority="))[11:])
    assert allow_priority < deny_priority < 65534
    (address,) = find(cmds, "compute", "addresses", "create", "ib-gateway-live")
    assert not [a for a in address if a.startswith("--subnet")]  # external
    assert find(cmds, "compute", "addresses", "create", "ib-gateway-live-internal")
    (worker,) = find(cmds, "run", "services", "update", "ib-live")
    env = next(a for a in worker if a.startswith("--update-env-vars="))
    assert "GATEWAY_MODE=external" in env and "IB_GATEWAY_PORT=4001" in env
    assert "IB_GATEWAY_HOST=INTERNAL_ADDRESS_OF_ib-gateway-live-internal" in env
    for flag in ("--vpc-egress=private-ranges-only", "--network-tags=ib-worker-live"):
        assert flag in worker, flag
    assert find(cmds, "services", "enable")[0].count("compute.googleapis.com") == 1


def test_credentials_are_never_on_a_command_line_nor_in_the_vms_metadata(sandbox):
    sandbox.deploy("ib-live", "ib-dashboard")
    run = sandbox.run(*LIVE, stdin=FAKE_CREDENTIALS)
    assert run.returncode == 0, run.stdout + run.stderr
    argv = " ".join(" ".join(c["argv"]) for c in run.calls)
    assert FAKE_PASSWORD not in argv and FAKE_USER not in argv
    with open("deploy/cloud/gateway-vm.cloud-init.yaml") as cloud_init:
        text = cloud_init.read()
    assert "IB_CREDENTIALS_SECRET" in text and "password" not in text.lower()


def test_setup_connects_the_worker_to_the_reserved_internal_address_and_then_is_steady(sandbox):
    sandbox.deploy("ib-live", "ib-dashboard")
    first = sandbox.run(*LIVE, stdin=FAKE_CREDENTIALS)
    assert first.returncode == 0, first.stdout + first.stderr
    made = [c["argv"] for c in first.calls]
    (vm,) = [a for a in made if a[:3] == ["compute", "instances", "create"]]
    assert "--private-network-ip=10.172.0.7" in vm
    (worker,) = [a for a in made if a[:4] == ["run", "services", "update", "ib-live"]]
    assert any("IB_GATEWAY_HOST=10.172.0.7" in a for a in worker)
    second = sandbox.run(*LIVE, stdin=FAKE_CREDENTIALS)
    assert second.returncode == 0, second.stdout + second.stderr
    again = [c["argv"] for c in second.calls if c["argv"][0] == "compute"]
    assert not [a for a in again if "create" in a]
    assert not [c for c in second.calls if c["argv"][:3] == ["run", "services", "update"]]


def test_teardown_removes_the_vm_the_addresses_the_rule_and_the_account(sandbox):
    sandbox.deploy("ib-live", "ib-dashboard")
    assert sandbox.run(*LIVE, stdin=FAKE_CREDENTIALS).returncode == 0
    down = sandbox.run(*DEMO, "--mode", "live", "--teardown", "--yes")
    assert down.returncode == 0, down.stdout + down.stderr
    left = [k for k in sandbox.cloud()["resources"] if "ib-gateway" in k]
    assert left == []
    deleted = [c["argv"][:4] for c in down.calls if "delete" in c["argv"]]
    assert ["compute", "instances", "delete", "ib-gateway-live"] in deleted
    assert ["compute", "firewall-rules", "delete", "ib-gateway-live-api"] in deleted
    assert ["compute", "firewall-rules", "delete", "ib-gateway-live-api-deny"] in deleted


def test_without_the_option_there_is_no_vm(sandbox):
    run = sandbox.run(*DEMO, "--mode", "live", "--dry-run", FAKE_GCLOUD_FORBID="1")
    assert run.returncode == 0, run.stderr
    assert not [c for c in run.shown if c[0] == "compute"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--gateway", "always"), "--gateway must be per-intent or always-on"),
        (("--gateway-zone", "us-east1-b"), "not in --region europe-west6"),
        (("--gateway-zone", "b; rm -rf /"), "is not a zone"),
        (("--gateway-machine-type", "e2 small"), "is not a machine type"),
    ],
)
def test_bad_gateway_options_are_refused_in_one_line(extra, words):
    with pytest.raises(UsageError, match=words):
        parse([*DEMO, *extra])


def test_with_the_notifier_the_vm_may_read_the_webhook_secret_for_its_notices(sandbox):
    run = sandbox.run(
        *LIVE,
        "--notifier",
        "--dry-run",
        stdin=FAKE_CREDENTIALS,
        FAKE_GCLOUD_FORBID="1",
        NOTIFY_URL="https://hooks.example.invalid/not-a-real-hook-7c",
    )
    assert run.returncode == 0, run.stderr
    (vm,) = find(run.shown, "compute", "instances", "create", "ib-gateway-live")
    metadata = next(a for a in vm if a.startswith("--metadata="))
    assert "ib-notify-secret=ib-notify-url" in metadata  # the name only
    assert "hooks.example.invalid" not in " ".join(" ".join(c) for c in run.shown)
    granted = [c for c in run.shown if f"--member=serviceAccount:{VM_ACCOUNT}" in c]
    secrets = sorted(c[2] for c in granted if c[0] == "secrets")
    assert secrets == ["ib-credentials-live", "ib-notify-url"]  # those two, nothing wider
    with open("deploy/cloud/gateway-vm.cloud-init.yaml") as cloud_init:
        assert 'NOTIFY_URL_SECRET="$(md ib-notify-secret' in cloud_init.read()
