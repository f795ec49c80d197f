"""The images `make images` builds, run here as Cloud Run runs them (`.ci/run` runs these after
the test suite, once the images are built): the worker image serving the demo's intents through
the push subscription with its gateway started by the stand-in IBC, the dashboard image serving its
pages with their headers, the gateway started and stopped inside the worker image, and nothing left
behind on any path: no process, no credentials file, no buildah working container."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

import pytest

from deploy import watchdog
from deploy.images import buildah, checks
from deploy.images.build import BASE_IMAGE, DASHBOARD_IMAGE, WORKER_IMAGE
from deploy.processes import free_port
from deploy.stack import ROOT, WORKER_COMMAND, LocalStack, StackOptions
from tests import proc_table
from tests.conftest import TEST_WORKER_ENV, leaked
from tests.support import Results, publish, unique, wait_until

pytestmark = [pytest.mark.image, pytest.mark.stack]


@pytest.fixture(scope="module", autouse=True)
def images_built() -> None:
    missing = checks.images_present(BASE_IMAGE, WORKER_IMAGE, DASHBOARD_IMAGE)
    if missing:
        pytest.fail(f"not built: {', '.join(missing)}: run `make images` first", pytrace=False)


def contained(pgid: int) -> dict[int, tuple[str, str]]:
    """pid -> (root directory, command line) of the live processes that the process group `pgid`
    started (in whatever group or session) and that run inside a container (their root is not the
    host's)."""
    found = {}
    for pid in watchdog.tree(pgid):
        try:
            root = os.readlink(f"/proc/{pid}/root")
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if root != "/":
            found[pid] = (root, command)
    return found


def alive(pids: object) -> list[str]:
    """The processes of `pids` still running (zombies, waiting for their reaper, are not)."""
    found = (proc_table.read(int(pid)) for pid in pids)  # type: ignore[attr-defined]
    return [f"{p.pid} {p.state} {proc_table.command_line(p.pid)}" for p in found if p and p.alive]


def test_the_images_keep_dockers_shell_and_run_as_a_non_root_user_with_the_stacks_command():
    # Built in Docker's format, so the Dockerfiles' RUN lines ran with `bash -o pipefail`.
    docker = json.loads(buildah.buildah("inspect", "--type", "image", BASE_IMAGE))["Docker"]
    assert docker["config"]["Shell"] == ["/bin/bash", "-o", "pipefail", "-c"]
    assert buildah.config(WORKER_IMAGE)["User"] == "1000:1000"
    assert buildah.config(DASHBOARD_IMAGE)["User"] == "1000:1000"
    assert tuple(buildah.config(WORKER_IMAGE)["Cmd"]) == WORKER_COMMAND


def test_the_gateway_starts_and_stops_inside_the_worker_image_leaving_nothing():
    before = set(buildah.working_containers())
    probe = checks.gateway_start_stop(WORKER_IMAGE)
    assert probe.ready, f"{probe.failure}\n{probe.log}"
    commands = " | ".join(str(p["command"]) for p in probe.started)
    # Xvfb, IBC's ibcstart.sh and the gateway (the stand-in's simulator) were all started ...
    assert "Xvfb :99" in commands and "/opt/ibc/scripts/ibcstart.sh 1099 --gateway" in commands
    assert "-m simulator" in commands and "--ibc-ini=/proc/self/fd/" in commands
    # ... and stopped, with no file holding the password, seen from inside and from the host.
    assert probe.left == [] and probe.files_with_password == []
    assert alive(p["pid"] for p in probe.started) == []
    assert set(buildah.working_containers()) == before


@pytest.fixture(scope="module")
def image_stack(tmp_path_factory: pytest.TempPathFactory):
    options = StackOptions(
        state_dir=tmp_path_factory.mktemp("image-stack"),
        worker_env=TEST_WORKER_ENV,
        retry_backoff=(1, 2),
        worker_image=WORKER_IMAGE,
        dashboard_image=DASHBOARD_IMAGE,
    )
    local = LocalStack(options, quiet=True)
    local.start()
    try:
        yield local
    finally:
        local.stop()


def test_the_worker_image_runs_the_demos_intents_through_the_push_subscription(image_stack):
    worker = image_stack.children["worker"].proc.pid
    served = contained(worker)
    pids = [pid for pid, (_, command) in served.items() if "worker.server" in command]
    assert pids  # the worker's root is not the host's: it is the image's
    root = Path(f"/proc/{pids[0]}/root")  # its root, as its own mounts show it
    assert (root / "opt/ibc/scripts/ibcstart.sh").is_file() and (root / "app/worker").is_dir()
    assert not Path("/opt/ibc/scripts/ibcstart.sh").exists() or root.resolve() != Path("/")
    for folder in (root / "app", root / "app/worker"):  # the source: read-only to uid 1000
        assert folder.stat().st_uid == 0 and not folder.stat().st_mode & 0o022
    tap = Results(image_stack)
    try:
        outcomes = {}
        for message in (
            {"intent": "ping", "params": {"gateway": True}},
            {"intent": "summary"},
            {"intent": "allocation"},
        ):
            intent_id = unique(message["intent"])
            publish(image_stack, {**message, "id": intent_id})
            outcomes[message["intent"]] = (intent_id, tap.for_id(intent_id, timeout=120))
        for intent, (intent_id, result) in outcomes.items():
            assert result["status"] == "succeeded", (intent, result)
            assert len(tap.all_for(intent_id, settle=0.5)) == 1, intent
        ping = outcomes["ping"][1]["result"]
        assert ping["gateway"]["mode"] == "ibc" and ping["gateway"]["accounts"]
        assert ping["service"] == "ib-paper-local" and ping["revision"] == "local"
        assert outcomes["allocation"][1]["result"]["orders"]
    finally:
        tap.close()
    log = (image_stack.log_dir / "worker.log").read_text(errors="replace")
    # The gateway was the image's: IBC's ibcstart.sh and the gateway it started said so.
    assert "ibcstart.sh (stand-in): IB Gateway 1099, paper mode" in log
    assert "IBC (stand-in): logged in, paper mode" in log
    assert leaked(log) == []


def test_the_dashboard_image_serves_the_intents_page_with_its_csp(image_stack):
    with urllib.request.urlopen(image_stack.dashboard_url + "intents", timeout=30) as response:
        assert response.status == 200
        policy = response.headers["Content-Security-Policy"]
        assert "default-src" in policy and "script-src" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert b"<html" in response.read().lower()
    dashboard = image_stack.children["dashboard"].proc.pid
    assert any("gunicorn" in command for _, command in contained(dashboard).values())
    # The image has the exchange calendar: the Schedules page marks holidays and early closes.
    with urllib.request.urlopen(image_stack.dashboard_url + "schedules", timeout=30) as response:
        page = response.read().decode()
    assert "rebalance-before-close" in page
    assert "are not marked here" not in page


@pytest.mark.parametrize("how", ["SIGTERM to the group", "SIGKILL to the stack process"])
def test_stopping_an_image_stack_leaves_no_process_and_no_container(tmp_path, how):
    before = set(buildah.working_containers())
    state = tmp_path / f"stack-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "WORKER_IMAGE": WORKER_IMAGE, "DASHBOARD_IMAGE": DASHBOARD_IMAGE}
    stack = subprocess.Popen(
        [sys.executable, "-m", "deploy", "up", "--state-dir", str(state)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        wait_until(lambda: (state / "env").exists(), 120, "the stack's env file")
        ours = set(buildah.working_containers()) - before
        assert len(ours) == 2  # the worker's and the dashboard's
        inside = contained(stack.pid)
        assert any("worker.server" in c for _, c in inside.values())
        assert any("gunicorn" in c for _, c in inside.values())
        if how.startswith("SIGTERM"):
            os.killpg(stack.pid, signal.SIGTERM)
        else:
            os.kill(stack.pid, signal.SIGKILL)
        stack.wait(timeout=60)
        wait_until(
            lambda: set(buildah.working_containers()) == before, 60, "the containers removed"
        )
        assert alive(inside) == []
        assert not list(state.glob("secrets/*"))  # the credentials file is gone too
    finally:
        if stack.poll() is None:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait()
    if how.startswith("SIGTERM"):
        assert "Traceback" not in stack.stderr.read().decode(errors="replace")
    stack.stderr.close()


def control(port: int, method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method, data=data)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_allocation_across_a_restart_of_the_gateway_container_sends_each_order_once(tmp_path):
    """GATEWAY=container: the gateway kept running by `python -m worker.gateway.always_on` in the
    worker image, the worker connecting in external mode, as to the always-on VM. The gateway
    stops answering after the allocation's first order and its container is replaced: the
    allocation ends with one result, each orderRef sent once."""
    control_port = free_port()
    options = StackOptions(
        project="gateway-container",
        state_dir=tmp_path / "stack",
        worker_env={**TEST_WORKER_ENV, "SIMULATOR_CONTROL_PORT": str(control_port)},
        retry_backoff=(1, 2),
        dashboard=False,
        gateway_image=WORKER_IMAGE,
    )
    with LocalStack(options, quiet=True) as local:
        assert local.worker_environment()["GATEWAY_MODE"] == "external"
        gateway = local.children["gateway"].proc.pid
        assert any("worker.gateway.always_on" in c for _, c in contained(gateway).values())
        control(control_port, "POST", "/faults", {"stall_after_orders": 1})
        tap = Results(local)
        try:
            intent_id = unique("across-restart")
            publish(local, {"intent": "allocation", "id": intent_id})
            wait_until(
                lambda: len(control(control_port, "GET", "/state")["orders"]) >= 1,
                120,
                "the allocation's first order at the broker",
            )
            first = contained(gateway)
            local.restart_gateway()  # a new container; the account file outlives it
            assert alive(first) == []
            result = tap.for_id(intent_id, timeout=180)
            assert len(tap.all_for(intent_id, settle=2)) == 1
        finally:
            tap.close()
        assert result["status"] == "succeeded", result
        assert result["attempts"] >= 2  # the first attempt lost its gateway
        placed_before = [o["symbol"] for o in result["result"]["orders"] if o.get("placedBefore")]
        assert placed_before == ["SPY"]  # adopted from the broker, not sent again
        orders = control(control_port, "GET", "/state")["orders"]
        refs = [o["orderRef"] for o in orders if o.get("orderRef")]
        assert len(refs) == 2 and len(set(refs)) == 2  # SPY and TLT, each sent once
    log = (options.state_dir / "logs" / "gateway.log").read_text(errors="replace")
    assert log.count("starting the always-on gateway on port") == 2 and leaked(log) == []
