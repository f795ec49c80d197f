"""The always-on gateway's container program, with the stand-in ibcstart.sh (it runs the
simulator as the gateway): connectable from outside, stopped by SIGTERM with nothing left, exits
non-zero when IBC stops by itself (systemd then starts it again), never logs the credentials."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from deploy.processes import free_port
from tests.conftest import leaked
from tests.publisher import webhook_receiver
from tests.worker.gateway.fake_secret_manager import FakeSecretManager
from tests.worker.gateway.ibc_standin import FAKE, launcher
from worker.gateway.always_on import AlwaysOnLauncher, run
from worker.gateway.connect import connect
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import Launcher
from worker.gateway.restarts import NEW_YORK
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def environment(home: Path, port: int, **extra: str) -> dict[str, str]:
    return {
        "GATEWAY_MODE": "ibc",
        "IBC_PATH": str(home / "ibc"),
        "TWS_PATH": str(home / "ibgateway"),
        "IBC_INI": str(home / "ibc" / "config.ini.template"),
        "TWS_SETTINGS_PATH": str(home / "jts"),
        "IB_CREDENTIALS_JSON": json.dumps(FAKE),
        "IB_GATEWAY_PORT": str(port),
        "TRADING_MODE": "live",
        **extra,
    }


def test_the_ini_accepts_incoming_connections_last(ibc_home):
    settings = launcher(ibc_home).settings
    text = AlwaysOnLauncher(settings, CredentialSource(settings)).ini_text()
    values = [line for line in text.splitlines() if line.startswith("AcceptIncoming")]
    assert values[-1] == "AcceptIncomingConnectionAction=accept"  # the template's reject loses


def test_the_ini_closes_down_weekly_with_the_daily_restart_and_nothing_else(ibc_home, monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    import time as clock

    clock.tzset()
    try:
        (ibc_home / "ibc" / "config.ini.template").write_text(
            "AutoLogoffTime=11:00 PM\nColdRestartTime=07:05\nClosedownAt=Friday 22:00\n"
        )
        settings = launcher(ibc_home, GATEWAY_WEEKLY_CLOSEDOWN="Sun 09:00").settings
        text = AlwaysOnLauncher(settings, CredentialSource(settings)).ini_text()
    finally:
        monkeypatch.delenv("TZ")
        clock.tzset()
    last = {}
    for line in text.splitlines():  # java.util.Properties: the last value of a key wins
        key, _, value = line.partition("=")
        last[key] = value
    assert last["ClosedownAt"] == "Sunday 09:00"
    assert last["AutoRestartTime"] == "11:15 PM"  # ClosedownAt goes with it (IBC's config.ini)
    assert last["AutoLogoffTime"] == ""  # would cancel AutoRestartTime
    assert last["ColdRestartTime"] == ""  # would be a second Sunday restart
    assert FAKE["password"] not in text.replace(f"IbPassword={FAKE['password']}", "")


def test_the_program_serves_until_sigterm_then_leaves_nothing(ibc_home):
    port = free_port()
    env = {
        **os.environ,
        **environment(ibc_home, port),
        "STANDIN_PYTHON": sys.executable,
        "PYTHONPATH": str(ROOT),
    }
    program = subprocess.Popen(
        [sys.executable, "-m", "worker.gateway.always_on"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        outside = Launcher(Settings.from_env({"GATEWAY_MODE": "external"}))
        outside.port = port
        ib = connect(outside, client_id=3, timeout=60)
        assert ib.managedAccounts()
        ib.disconnect()
        program.send_signal(signal.SIGTERM)
        output, _ = program.communicate(timeout=60)
    finally:
        if program.poll() is None:
            os.killpg(program.pid, signal.SIGKILL)
            program.wait(timeout=10)
    assert program.returncode == 0, output
    assert "stopping the always-on gateway" in output
    assert leaked(output) == []
    group = subprocess.run(["pgrep", "-g", str(program.pid)], capture_output=True, text=True)
    assert group.stdout.strip() == ""  # IBC, the gateway and Xvfb all gone


def test_ibc_stopping_by_itself_is_an_exit_code_for_systemd(ibc_home):
    env = environment(ibc_home, free_port())
    os.environ["STANDIN_EXIT"] = "1"
    try:
        code = run(Settings.from_env(env), threading.Event())
    finally:
        del os.environ["STANDIN_EXIT"]
    assert code == 1


@pytest.mark.parametrize(
    ("started_after", "minutes_after", "code", "level", "words"),
    [
        (-60, 5, 1, logging.INFO, "the weekly closedown stopped the gateway"),
        (-60, 60, 1, logging.ERROR, "the gateway stopped: ibc exited with code 0"),
        # systemd's fresh start after the closedown: its login failing (nobody approved) is an
        # error with the gateway's log, not the closedown again
        (1, 5, 1, logging.ERROR, "the gateway stopped: ibc exited with code 0"),
    ],
)
def test_ibc_s_weekly_closedown_exits_1_for_a_fresh_login_without_an_error(
    ibc_home, monkeypatch, caplog, started_after, minutes_after, code, level, words
):
    monkeypatch.setenv("STANDIN_EXIT", "0")  # IBC closed the gateway and ended
    closedown = datetime(2026, 12, 13, 3, 0, tzinfo=NEW_YORK)
    settings = Settings.from_env(environment(ibc_home, free_port()))
    times = iter([closedown + timedelta(minutes=started_after)])  # when it starts
    stopped = closedown + timedelta(minutes=minutes_after)
    with caplog.at_level(logging.INFO, logger="worker.gateway"):
        got = run(settings, threading.Event(), lambda: next(times, stopped))
    assert got == code  # systemd starts it again either way
    assert [r.levelno for r in caplog.records if words in r.getMessage()] == [level]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"GATEWAY_RESTART_TIME": "12:00"}, "market hours"),
        ({"IB_CREDENTIALS_JSON": "not json"}, "IB_CREDENTIALS_JSON is not valid JSON"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(ibc_home, env, words):
    done = subprocess.run(
        [sys.executable, "-m", "worker.gateway.always_on"],
        env={
            **os.environ,
            **environment(ibc_home, free_port()),
            **env,
            "PYTHONPATH": str(ROOT),
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert words in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


@pytest.fixture
def receiver():
    running = webhook_receiver.start()
    yield running
    webhook_receiver.stop(running)


@pytest.fixture
def secret_manager():
    with FakeSecretManager() as running:
        yield running


@pytest.mark.parametrize("via", ["NOTIFY_URL", "NOTIFY_URL_SECRET"])
def test_a_login_waiting_and_the_weekly_closedown_ahead_are_told_once_each(
    ibc_home, monkeypatch, receiver, secret_manager, via
):
    """always_on with the stand-in IBC, which prints IBC's second-factor line twice for one
    login; its clock passes the reminder time (3 h before Sunday 03:00 New York) while it runs.
    The webhook's address is given as such or, as on the VM, in a secret (a local stand-in)."""
    closedown = datetime(2026, 12, 13, 3, 0, tzinfo=NEW_YORK)
    times = iter([closedown - timedelta(hours=3, seconds=1)])  # when it starts
    monkeypatch.setenv("STANDIN_2FA", "2")
    monkeypatch.setenv("STANDIN_PYTHON", sys.executable)
    path = "projects/local-ib/secrets/ib-notify-url/versions/latest"
    secret_manager.secrets[path] = receiver.url.encode()
    given = (
        {"NOTIFY_URL": receiver.url}
        if via == "NOTIFY_URL"
        else {
            "NOTIFY_URL_SECRET": "ib-notify-url",
            "GOOGLE_CLOUD_PROJECT": "local-ib",
            "SECRET_MANAGER_ENDPOINT": secret_manager.endpoint,
        }
    )
    settings = Settings.from_env(environment(ibc_home, free_port(), TRADING_MODE="live", **given))
    stop, codes = threading.Event(), []
    worker = threading.Thread(
        target=lambda: codes.append(
            run(settings, stop, lambda: next(times, closedown - timedelta(hours=2, minutes=59)))
        )
    )
    worker.start()
    try:
        receiver.wait_for(2)
    finally:
        stop.set()
        worker.join(timeout=60)
    assert codes == [0]  # stopped, the gateway with it
    bodies = [json.loads(post.body) for post in receiver.posts]
    assert sorted(body["kind"] for body in bodies) == [
        "second-factor-waiting",
        "weekly-approval-ahead",
    ]
    assert all(body["tradingMode"] == "live" for body in bodies)
    text = json.dumps(bodies)
    assert FAKE["userid"] not in text and FAKE["password"] not in text
    assert "Sun 13 Dec 03:00 New York" in text
