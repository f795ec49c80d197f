"""The local stack as a person uses it: `make up` in one terminal, gcloud in another, and every way
it gets stopped leaves nothing behind (no emulator JVM, worker or simulator process, no open port,
no `.devstack/env`), checked from the process table.

The stacks of the stop paths run side by side (their start dominates), each stopped another way:
- Ctrl-C typed into the terminal that runs `make up` (SIGINT to its foreground group);
- SIGTERM to make alone (make passes it on);
- SIGTERM to the whole group, as `timeout`, supervisors and CI send it (the stack gets it twice:
  from the sender and from make), and a Ctrl-C on top while it stops;
- SIGKILL of `python -m deploy up`: it runs no cleanup, its watchdog stops the rest. This one is
  started with SIGINT ignored, as a shell's background job (a `make test &`) is: its children
  must not inherit that.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from deploy import emulators
from deploy.emulators import PrerequisiteMissing
from deploy.stack import ROOT
from tests.deploy.stack_runs import MARK, StackRun, ignores_sigint, marked


def gcloud(env_file: Path, *args: str) -> subprocess.CompletedProcess:
    # What a person does in another terminal: `set -a; . .devstack/env; set +a; gcloud ...`
    script = f"set -a; . {env_file}; set +a; gcloud " + " ".join(args)
    return subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.endswith("_EMULATOR_HOST")},
    )


def serves_gcloud(run: StackRun, env: dict[str, str]) -> None:
    assert env["CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB"].endswith("/")
    assert env["CLOUDSDK_AUTH_DISABLE_CREDENTIALS"] == "true"
    assert {
        "GOOGLE_CLOUD_PROJECT",
        "PUBSUB_EMULATOR_HOST",
        "FIRESTORE_EMULATOR_HOST",
        "CLOUDSDK_CORE_PROJECT",
        "WORKER_URL",
    } <= set(env)
    # Variables given to `make up` reach the worker process.
    worker = run.parts()["worker"][0]
    assert b"GATEWAY_KEEPALIVE_SECONDS=300" in Path(f"/proc/{worker}/environ").read_bytes()
    published = gcloud(
        run.env_file, "pubsub", "topics", "publish", "intents", '--message=\'{"intent":"ping"}\''
    )
    assert published.returncode == 0, published.stderr
    pulled: list = []
    deadline = time.monotonic() + 60
    while not pulled and time.monotonic() < deadline:
        out = gcloud(
            run.env_file,
            "pubsub",
            "subscriptions",
            "pull",
            "intent-results-tap",
            "--auto-ack",
            "--format=json",
        )
        assert out.returncode == 0, out.stderr
        pulled = json.loads(out.stdout or "[]")
    assert pulled, "no result on intent-results-tap"
    assert pulled[0]["message"]["attributes"]["status"] == "succeeded"


@pytest.mark.stack
def test_make_up_serves_gcloud_and_every_stop_leaves_nothing(tmp_path):
    runs: dict[str, StackRun] = {}
    envs: dict[str, dict[str, str]] = {}
    follower: subprocess.Popen | None = None
    try:
        # Two at a time: eight emulator JVMs starting at once on two cores slow every start.
        for wave in (
            {"ctrl_c": {"via_make": True, "terminal": True}, "term_make": {"via_make": True}},
            {"term_group": {"via_make": True}, "kill": {"sigint": signal.SIG_IGN}},
        ):
            for name, options in wave.items():
                runs[name] = StackRun(tmp_path, name, **{"via_make": False, **options})
            envs.update({name: runs[name].wait_up() for name in wave})
        with ThreadPoolExecutor(len(runs)) as pool:
            list(pool.map(StackRun.start_gateway, runs.values()))
        for run in runs.values():
            parts = run.parts()
            assert len(parts.get("emulator JVM", [])) == 2, (run.name, parts)
            assert parts.get("worker") and parts.get("simulator"), (run.name, parts)
            assert len(parts.get("watchdog", [])) == 1, (run.name, parts)
        serves_gcloud(runs["term_make"], envs["term_make"])
        # A person following results in another terminal learns that the stack went away.
        follower = subprocess.Popen(
            [sys.executable, "-m", "publisher", "results", "--follow"],
            cwd=ROOT,
            env={**os.environ, **envs["term_make"]},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

        # Started as a background job, the stack ignores SIGINT itself, as it should; its children
        # (emulators, worker, simulator) do not. The watchdog and the gateway's guard ignore it
        # by design: they are stopped by their parent's death, not by a terminal.
        background = runs["kill"]
        assert ignores_sigint(background.proc.pid)
        parts = background.parts()
        children = [p for kind in ("emulator JVM", "worker", "simulator") for p in parts[kind]]
        assert not [p for p in children if ignores_sigint(p)], parts

        runs["ctrl_c"].type(b"\x03")
        os.kill(runs["term_make"].proc.pid, signal.SIGTERM)
        os.killpg(runs["term_group"].proc.pid, signal.SIGTERM)
        os.kill(runs["kill"].proc.pid, signal.SIGKILL)
        time.sleep(0.5)  # the group's stack is stopping now; a Ctrl-C must not cut it short
        os.killpg(runs["term_group"].proc.pid, signal.SIGINT)

        for run in runs.values():
            run.proc.wait(timeout=60)
            run.assert_gone()
        assert follower.wait(timeout=60) == 4
    finally:
        for run in runs.values():
            if run.proc.poll() is None or marked(run.mark):
                run.kill()
        if follower is not None and follower.poll() is None:
            follower.kill()
            follower.wait()
    said = follower.stderr.read().splitlines()
    assert said[0].startswith("listening for new results"), said
    assert len(said) == 2 and said[1].startswith("error: the local stack stopped answering"), said

    assert runs["kill"].proc.returncode == -signal.SIGKILL
    assert runs["term_make"].proc.returncode != 0  # make reports that it was terminated
    assert "[stack] SIGTERM: stopping" in runs["term_make"].output
    group = runs["term_group"].output
    assert "[stack] SIGTERM: stopping" in group and "already stopping, please wait" in group
    assert "Traceback" not in group and "KeyboardInterrupt" not in group
    assert "[watchdog] the stack process is gone" in runs["kill"].output

    # At a terminal the worker's log is readable: time, severity, intent id, message; piped or
    # in a file it stays JSON.
    shown = runs["ctrl_c"].output
    assert "[stack] SIGINT: stopping" in shown
    assert re.search(r"^\d\d:\d\d:\d\d\.\d{3} INFO +\[[^\]]+\] intent \S+ succeeded", shown, re.M)
    assert '"severity"' not in shown
    logged = [line for line in runs["term_make"].output.splitlines() if line.startswith("{")]
    assert logged and all('"severity"' in line for line in logged)


def test_missing_gcloud_is_explained(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    emulators.sdk_root.cache_clear()
    try:
        with pytest.raises(PrerequisiteMissing) as caught:
            emulators.check_prerequisites()
    finally:
        emulators.sdk_root.cache_clear()
    message = str(caught.value)
    assert "not on PATH" in message
    assert "gcloud components install beta pubsub-emulator cloud-firestore-emulator" in message


def test_make_demo_succeeds_and_leaves_nothing_running(tmp_path):
    mark = f"demo-{tmp_path.name}"
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "demo", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, MARK: mark},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^  status +succeeded$", done.stdout, re.M)
    assert "demo succeeded" in done.stdout
    deadline = time.monotonic() + 5  # the watchdog exits on its own once the demo has
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert marked(mark) == {}
