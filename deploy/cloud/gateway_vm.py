"""`--gateway always-on`: one long-lived IB Gateway on a small Compute Engine VM, for live accounts
(a cold login asks for an IBKR Mobile approval; IBC's daily auto-restart keeps the session, so a
person approves once a week instead of once per intent). docs/live-trading.md.

The VM (Container-Optimized OS) runs the worker's image as the gateway container under systemd
(deploy/cloud/gateway-vm.cloud-init.yaml, in the VM's metadata: no secret in it). The container
reads the credentials from Secret Manager at start with the VM's own service account, which may
read that one secret and nothing else. A reserved static external IP keeps IB's saved session
across restarts; a reserved internal IP is where the worker connects (Direct VPC egress), and a
firewall rule lets only the worker's network tag reach the API port.
"""

from __future__ import annotations

from pathlib import Path

from deploy.cloud import iam, notifier
from deploy.cloud.gcloud import Command, Gcloud
from deploy.cloud.options import Options
from deploy.cloud.plan import Facts, Resource, Seen, static
from worker import names
from worker.settings import Settings

CLOUD_INIT = Path(__file__).with_name("gateway-vm.cloud-init.yaml")
NETWORK = "default"
API_PORTS = {"live": 4001, "paper": 4002}  # IB Gateway's own defaults
EGRESS = "private-ranges-only"  # only the VM's private address goes through the VPC
ALLOW_PRIORITY, DENY_PRIORITY = 900, 1000  # the worker's tag first; both before 65534's defaults


def vm_name(mode: str) -> str:
    return f"ib-gateway-{mode}"


def worker_tag(mode: str) -> str:
    return f"ib-worker-{mode}"


def external_settings(mode: str, host: str) -> dict[str, str]:
    """The worker's environment for the always-on gateway at `host`."""
    return {
        "GATEWAY_MODE": "external",
        "IB_GATEWAY_HOST": host,
        "IB_GATEWAY_PORT": str(API_PORTS[mode]),
        "GATEWAY_KEEPALIVE_SECONDS": "0",  # nothing to keep warm: the gateway is not ours
    }


def _address(gcloud: Gcloud, name: str, region: str) -> str | None:
    """The reserved address's IP, "" while it has none, None when it is not reserved."""
    found = gcloud.read_json("compute", "addresses", "describe", name, f"--region={region}")
    return None if found is None else str(found.get("address") or "")


def resources(o: Options, worker_key: str) -> list[Resource]:
    """With --gateway always-on: everything; in a teardown: the same list, to remove it."""
    if o.gateway != "always-on" and not o.teardown:
        return []
    name, region, zone = vm_name(o.mode), f"--region={o.region}", f"--zone={o.gateway_zone}"
    email = o.email(name)
    member = f"serviceAccount:{email}"
    internal, port = f"{name}-internal", API_PORTS[o.mode]
    placeholder = {"internal": f"INTERNAL_ADDRESS_OF_{internal}"}

    def locate_internal(gcloud: Gcloud) -> Seen:
        found = _address(gcloud, internal, o.region)
        return Seen(found is not None, facts={"internal": found or ""})

    account = Resource(
        key=f"service account {name} (the gateway VM's own)",
        probe=lambda gcloud: Seen(
            gcloud.read_json("iam", "service-accounts", "describe", email) is not None
        ),
        create=static(
            Command.of("iam", "service-accounts", "create", name, f"--display-name={name}")
        ),
        delete=static(Command.of("iam", "service-accounts", "delete", email)),
    )
    secret = names.credentials_secret(o.mode)
    reads = iam.binding(
        "roles/secretmanager.secretAccessor",
        member,
        iam.secret(secret),
        needs=(account.key,),
        note="this one secret only, read by the container at start",
    )
    # With --notifier, the container may read the webhook address too: its notices ahead of the
    # weekly approval and of a login waiting for one (worker/gateway/notify_secret.py).
    notices = (
        [
            iam.binding(
                "roles/secretmanager.secretAccessor",
                member,
                iam.secret(notifier.SECRET),
                needs=(account.key, f"secret {notifier.SECRET}"),
                note="the notifier's webhook address, for the gateway's approval notices",
            )
        ]
        if o.notifier
        else []
    )
    pulls = iam.binding(
        "roles/artifactregistry.reader",
        member,
        iam.repository(o.repository, o.region),
        needs=(account.key,),
    )
    logs = iam.binding(
        "roles/logging.logWriter", member, iam.project(o.project), needs=(account.key,)
    )
    external = Resource(
        key=f"static external IP {name} (one egress address: IB keeps the saved session)",
        probe=lambda gcloud: Seen(_address(gcloud, name, o.region) is not None),
        create=static(Command.of("compute", "addresses", "create", name, region)),
        delete=static(Command.of("compute", "addresses", "delete", name, region, "--quiet")),
    )
    inside = Resource(
        key=f"internal IP {internal} (where the worker connects)",
        probe=locate_internal,
        create=static(
            Command.of("compute", "addresses", "create", internal, region, f"--subnet={NETWORK}")
        ),
        delete=static(Command.of("compute", "addresses", "delete", internal, region, "--quiet")),
    )
    firewall = _rule(
        f"{name}-api",
        f"firewall rule {name}-api (tcp:{port} from {worker_tag(o.mode)} only)",
        "--action=ALLOW",
        f"--rules=tcp:{port}",
        f"--source-tags={worker_tag(o.mode)}",
        f"--target-tags={name}",
        f"--priority={ALLOW_PRIORITY}",
    )
    # The default network's default-allow-internal (priority 65534) lets every address in the
    # VPC reach every port, and the API takes orders from whoever connects: deny the port to all
    # but the worker's tag, which the allow rule above lets in first.
    deny = _rule(
        f"{name}-api-deny",
        f"firewall rule {name}-api-deny (tcp:{port} from anywhere else)",
        "--action=DENY",
        f"--rules=tcp:{port}",
        "--source-ranges=0.0.0.0/0",
        f"--target-tags={name}",
        f"--priority={DENY_PRIORITY}",
    )

    def vm_probe(gcloud: Gcloud) -> Seen:
        found = gcloud.read_json("compute", "instances", "describe", name, zone)
        return Seen(found is not None, facts=locate_internal(gcloud).facts)

    vm = Resource(
        key=f"VM {name} ({o.gateway_machine_type}, Container-Optimized OS, in {o.gateway_zone})",
        probe=vm_probe,
        create=lambda facts: [_create_vm(o, email, facts["internal"])],
        delete=static(Command.of("compute", "instances", "delete", name, zone, "--quiet")),
        needs=(
            reads.key,
            pulls.key,
            external.key,
            inside.key,
            firewall.key,
            deny.key,
            *(n.key for n in notices),
        ),
        dry_facts=placeholder,
        note="a cold login waits for your IBKR Mobile approval",
    )
    worker = _worker_settings(o, worker_key, inside.key, locate_internal, placeholder)
    return [account, reads, *notices, pulls, logs, external, inside, firewall, deny, vm, worker]


def _rule(rule: str, key: str, *flags: str) -> Resource:
    return Resource(
        key=key,
        probe=lambda gcloud: Seen(
            gcloud.read_json("compute", "firewall-rules", "describe", rule) is not None
        ),
        create=static(
            Command.of(
                "compute",
                "firewall-rules",
                "create",
                rule,
                f"--network={NETWORK}",
                "--direction=INGRESS",
                *flags,
            )
        ),
        delete=static(Command.of("compute", "firewall-rules", "delete", rule, "--quiet")),
    )


def _create_vm(o: Options, email: str, internal: str) -> Command:
    name = vm_name(o.mode)
    image = f"{names.registry(o.region, o.project, o.repository)}/{names.WORKER_IMAGE}:latest"
    metadata = {
        "ib-image": image,
        "ib-secret": names.credentials_secret(o.mode),
        "ib-project": o.project,
        "ib-trading-mode": o.mode,
        "ib-port": str(API_PORTS[o.mode]),
        "ib-restart-time": Settings.gateway_restart_time,
        "ib-weekly-closedown": Settings.gateway_weekly_closedown,
        **({"ib-notify-secret": notifier.SECRET} if o.notifier else {}),
        "google-logging-enabled": "true",
    }
    return Command.of(
        "compute",
        "instances",
        "create",
        name,
        f"--zone={o.gateway_zone}",
        f"--machine-type={o.gateway_machine_type}",
        "--image-family=cos-stable",
        "--image-project=cos-cloud",
        "--boot-disk-size=10GB",
        "--shielded-secure-boot",
        f"--service-account={email}",
        "--scopes=cloud-platform",
        f"--tags={name}",
        f"--address={name}",
        f"--private-network-ip={internal}",
        f"--subnet={NETWORK}",
        "--metadata=" + ",".join(f"{k}={v}" for k, v in metadata.items()),
        f"--metadata-from-file=user-data={CLOUD_INIT.relative_to(CLOUD_INIT.parents[2])}",
    )


def _worker_settings(
    o: Options, worker_key: str, inside_key: str, locate, placeholder: Facts
) -> Resource:
    service, tag = names.service(o.mode), worker_tag(o.mode)

    def probe(gcloud: Gcloud) -> Seen:
        facts = locate(gcloud).facts
        found = gcloud.read_json("run", "services", "describe", service, f"--region={o.region}")
        containers = (((found or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
        env = {
            e.get("name"): e.get("value")
            for c in containers.get("containers") or []
            for e in c.get("env") or []
        }
        want = external_settings(o.mode, facts["internal"])
        drift = tuple(f"{k} {env.get(k)!r} -> {v!r}" for k, v in want.items() if env.get(k) != v)
        return Seen(not drift, drift, facts)

    def commands(facts: Facts) -> list[Command]:
        env = external_settings(o.mode, facts["internal"])
        return [
            Command.of(
                "run",
                "services",
                "update",
                service,
                f"--region={o.region}",
                "--update-env-vars=" + ",".join(f"{k}={v}" for k, v in env.items()),
                f"--network={NETWORK}",
                f"--subnet={NETWORK}",
                f"--vpc-egress={EGRESS}",
                f"--network-tags={tag}",
            )
        ]

    return Resource(
        key=f"worker {service} on the always-on gateway (GATEWAY_MODE=external, Direct VPC egress)",
        probe=probe,
        create=commands,
        update=commands,
        needs=(worker_key, inside_key),
        dry_facts=placeholder,
    )
