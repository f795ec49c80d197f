"""The `ibc` launcher for real, with a stand-in `ibcstart.sh` (the real gateway cannot run here)."""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

import pytest

from worker.exceptions import GatewayError
from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

STANDIN = Path(__file__).with_name("ibcstart_standin.sh")
FAKE = {"userid": "testuser1", "password": "not-a-real-password-7Q"}


@pytest.fixture
def ibc_home(tmp_path: Path) -> Path:
    (tmp_path / "ibc" / "scripts").mkdir(parents=True)
    shutil.copy(STANDIN, tmp_path / "ibc" / "scripts" / "ibcstart.sh")
    (tmp_path / "ibgateway" / "1030").mkdir(parents=True)
    (tmp_path / "ibgateway" / "1019").mkdir(parents=True)
    (tmp_path / "ibc" / "config.ini.template").write_text(
        "# template\nReadOnlyApi=yes\nAcceptIncomingConnectionAction=reject\nIbPassword=\n"
    )
    return tmp_path


def launcher(home: Path, **env: str) -> IbcLauncher:
    settings = Settings.from_env(
        {
            "GATEWAY_MODE": "ibc",
            "IBC_PATH": str(home / "ibc"),
            "TWS_PATH": str(home / "ibgateway"),
            "IBC_INI": str(home / "ibc" / "config.ini.template"),
            "TWS_SETTINGS_PATH": str(home / "jts"),
            "IB_CREDENTIALS_JSON": json.dumps(FAKE),
            "IB_GATEWAY_PORT": "4999",
            **env,
        }
    )
    return IbcLauncher(settings, CredentialSource(settings))


def living_in_group(pgid: int) -> list[str]:
    """Processes of the group that are not zombies (a zombie waits for its reaper)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            found.append(stat.parent.name)
    return found


def wait_exit(ibc: IbcLauncher, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ibc.process.exit_code is None and time.monotonic() < deadline:
        time.sleep(0.05)


def test_ini_and_command(ibc_home):
    ibc = launcher(ibc_home, TRADING_MODE="live")
    assert ibc.gateway_version() == "1030"
    ini = ibc.write_ini()
    try:
        assert oct(ini.stat().st_mode & 0o777) == "0o600"
        lines = ini.read_text().splitlines()
        assert "AcceptIncomingConnectionAction=reject" in lines
        assert "ReadOnlyApi=no" in lines and "ReadOnlyApi=yes" not in lines
        assert f"IbPassword={FAKE['password']}" in lines and "IbPassword=" not in lines
        assert "TradingMode=live" in lines and "OverrideTwsApiPort=4999" in lines
        command = ibc.command(ini)
        assert command[:3] == [str(ibc_home / "ibc/scripts/ibcstart.sh"), "1030", "--gateway"]
        assert "--mode=live" in command and f"--ibc-ini={ini}" in command
        assert "--on2fatimeout=restart" in command
        assert not any(
            FAKE["password"] in arg or arg.startswith(("--pw", "--user")) for arg in command
        )
    finally:
        ibc.stop()
    assert not ini.exists() and not ini.parent.exists()


def test_version_file_wins(ibc_home):
    (ibc_home / "ibgateway" / "VERSION").write_text("1037\n")
    assert launcher(ibc_home).gateway_version() == "1037"


def test_no_gateway_installed_is_a_permanent_error(tmp_path):
    (tmp_path / "ibgateway").mkdir()
    with pytest.raises(GatewayError, match="no IB Gateway version") as caught:
        launcher(tmp_path).gateway_version()
    assert caught.value.retryable is False


def test_process_group_stopped_and_output_logged_redacted(ibc_home, caplog, monkeypatch):
    monkeypatch.setenv("STANDIN_SLEEP", "300")
    monkeypatch.setenv("IB_CREDENTIALS_JSON", json.dumps(FAKE))  # as a Cloud Run secret mount
    ibc = launcher(ibc_home)
    with caplog.at_level(logging.INFO, logger="worker.gateway"):
        ibc.start()
        deadline = time.monotonic() + 10
        while "password=" not in ibc.log_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = ibc.process.pid
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert FAKE["password"].encode() not in cmdline
        assert FAKE["password"].encode() not in Path(f"/proc/{pid}/environ").read_bytes()
        ibc.stop()
    assert living_in_group(pid) == []  # the whole group, `sleep` included, is gone
    text = caplog.text
    assert "stand-in IBC: gateway 1030, paper mode" in text
    assert "password=***" in text
    assert FAKE["password"] not in text


@pytest.mark.parametrize(("code", "words"), [(87, "second-factor"), (88, "login dialog")])
def test_ibc_exit_codes_are_explained(ibc_home, code, words, monkeypatch):
    monkeypatch.setenv("STANDIN_EXIT", str(code))
    ibc = launcher(ibc_home)
    ibc.start()
    try:
        wait_exit(ibc)
        assert f"ibc exited with code {code}: " in ibc.failure()
        assert words in ibc.failure()
    finally:
        ibc.stop()
