"""The `ibc` launcher for real, with a stand-in `ibcstart.sh` (the real gateway cannot run here)."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests import proc_table
from tests.conftest import leaked
from tests.worker.gateway.ibc_standin import CANARY_USERID, FAKE, launcher
from worker.exceptions import GatewayError
from worker.gateway.credentials import Credentials
from worker.gateway.launchers import IBC_EXIT_CODES, IbcLauncher
from worker.gateway.properties import properties_value
from worker.settings import Settings


def living_in_group(pgid: int) -> list[int]:
    """Processes of the group that are not zombies (a zombie waits for its reaper)."""
    return proc_table.in_group(pgid)


def wait_exit(ibc: IbcLauncher, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while ibc.process.exit_code is None and time.monotonic() < deadline:
        time.sleep(0.05)


def test_ini_and_command(ibc_home, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    ibc = launcher(ibc_home, TRADING_MODE="live")
    assert ibc.gateway_version() == "1030"
    ini = ibc.write_ini()
    try:
        assert os.readlink(ini).startswith("/memfd:ibc-config.ini")  # in memory, in no directory
        assert oct(ini.stat().st_mode & 0o777) == "0o600"
        lines = ini.read_text().splitlines()
        assert "AcceptIncomingConnectionAction=reject" in lines
        assert "ReadOnlyApi=no" in lines and "ReadOnlyApi=yes" not in lines
        assert f"IbPassword={FAKE['password']}" in lines and "IbPassword=" not in lines
        assert "TradingMode=live" in lines and "OverrideTwsApiPort=4999" in lines
        restart = next(line for line in lines if line.startswith("AutoRestartTime="))
        assert re.fullmatch(r"AutoRestartTime=\d\d:\d\d [AP]M", restart)  # IBC's hh:mm AM
        command = ibc.command(ini)
        assert command[:3] == [str(ibc_home / "ibc/scripts/ibcstart.sh"), "1030", "--gateway"]
        assert "--mode=live" in command and f"--ibc-ini={ini}" in command
        assert "--on2fatimeout=restart" in command
        assert not any(
            FAKE["password"] in arg or arg.startswith(("--pw", "--user")) for arg in command
        )
    finally:
        ibc.stop()
    assert not ini.exists() or not os.readlink(ini).startswith("/memfd:ibc-config.ini")
    assert list((tmp_path / "tmp").iterdir()) == []


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
        while "login dialog" not in ibc.log_tail() and time.monotonic() < deadline:
            time.sleep(0.05)
        pid = ibc.process.pid
        for process in [pid, *living_in_group(pid)]:
            cmdline = Path(f"/proc/{process}/cmdline").read_bytes()
            assert FAKE["password"].encode() not in cmdline
            assert FAKE["password"].encode() not in Path(f"/proc/{process}/environ").read_bytes()
        ibc.stop()
    assert living_in_group(pid) == []  # the whole group, `sleep` included, is gone
    text = caplog.text
    assert "stand-in IBC: gateway 1030, paper mode" in text
    assert "stand-in IBC: login for *** password=***" in text
    assert "stand-in IBC: typed *** into the login dialog of ***" in text
    assert leaked(text) == []


@pytest.mark.parametrize(
    ("code", "seen", "words"),
    [
        (87, 87, "second-factor"),
        (88, 88, "login dialog"),
        # IBC's System.exit(1111): Linux reports the low byte, 87, which is explained the same
        (1111, 87, "IBC's 1111"),
        (1112, 88, "IBC's 1112"),
    ],
)
def test_ibc_exit_codes_are_explained(ibc_home, code, seen, words, monkeypatch):
    monkeypatch.setenv("STANDIN_EXIT", str(code))
    ibc = launcher(ibc_home)
    ibc.start()
    try:
        wait_exit(ibc)
        assert f"ibc exited with code {seen}: " in ibc.failure()
        assert words in ibc.failure()
    finally:
        ibc.stop()


def test_ibc_error_codes_map_to_what_linux_reports():
    assert IBC_EXIT_CODES[87] == IBC_EXIT_CODES[1111]
    assert IBC_EXIT_CODES[88] == IBC_EXIT_CODES[1112]
    assert "second-factor" in IBC_EXIT_CODES[1111]


READ_PROPERTIES = """
import java.io.*;
import java.util.*;

public class ReadProperties {
    public static void main(String[] args) throws Exception {
        Properties properties = new Properties();
        try (InputStream in = new BufferedInputStream(new FileInputStream(args[0]))) {
            properties.load(in);  // as IBC's DefaultSettings reads config.ini
        }
        for (String key : new TreeSet<>(properties.stringPropertyNames())) {
            StringBuilder hex = new StringBuilder();
            for (char c : properties.getProperty(key).toCharArray()) {
                hex.append(String.format("%04x", (int) c));
            }
            System.out.println(key + " " + hex);
        }
    }
}
"""


@pytest.fixture(scope="module")
def java_properties(tmp_path_factory):
    """Reads a file with java.util.Properties (IBC's way): {key: value}."""
    if shutil.which("javac") is None:
        pytest.fail("javac (Java 17) is needed: it is part of the development setup")
    classes = tmp_path_factory.mktemp("java")
    (classes / "ReadProperties.java").write_text(READ_PROPERTIES)
    subprocess.run(["javac", "ReadProperties.java"], cwd=classes, check=True, timeout=120)

    def read(path: Path) -> dict[str, str]:
        # The launcher's memory file is handed over as IBC gets it: the fd, at the same number.
        fds = (int(path.name),) if str(path.parent) == "/proc/self/fd" else ()
        out = subprocess.run(
            ["java", "-cp", str(classes), "ReadProperties", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
            pass_fds=fds,
        ).stdout
        values = {}
        for line in out.splitlines():
            key, _, hex_units = line.partition(" ")
            units = bytes.fromhex(hex_units)
            values[key] = units.decode("utf-16-be", "surrogatepass")
        return values

    return read


class Fixed:
    """A credential source that hands over exactly these values (no checks)."""

    def __init__(self, userid: str, password: str) -> None:
        self.value = Credentials(userid=userid, password=password)

    def get(self) -> Credentials:
        return self.value


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    passwords=st.lists(
        st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=40),
        min_size=1,
        max_size=25,
    )
)
def test_every_value_reads_back_unchanged_with_java_properties(
    java_properties, passwords, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("ini")
    lines = [f"k{i}={properties_value(p)}" for i, p in enumerate(passwords)]
    (folder / "values.ini").write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    read = java_properties(folder / "values.ini")
    assert read == {f"k{i}": p for i, p in enumerate(passwords)}


def test_a_line_break_in_a_password_cannot_add_a_setting(ibc_home, java_properties):
    """Credentials refuses it (test_credentials); if one came through anyway, IBC would read it as
    part of the password, not as settings of its own."""
    settings_ = Settings.from_env(
        {"IBC_INI": str(ibc_home / "ibc" / "config.ini.template"), "IB_GATEWAY_PORT": "4999"}
    )
    injected = "\\ x\nTrustedTwsApiClientIPs=0.0.0.0/0\r\nCommandServerPort=7462 é"
    ibc = IbcLauncher(settings_, Fixed(CANARY_USERID, injected))
    try:
        read = java_properties(ibc.write_ini())
    finally:
        ibc.stop()
    assert read["IbPassword"] == injected and read["IbLoginId"] == CANARY_USERID
    assert "TrustedTwsApiClientIPs" not in read and "CommandServerPort" not in read
    assert read["OverrideTwsApiPort"] == "4999" and read["ReadOnlyApi"] == "no"


def test_stale_ini_files_of_earlier_versions_are_removed_at_start(ibc_home, tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    stale = tmp_path / "tmp" / "ibc-k2j4h1"  # as an earlier version left it after a SIGKILL
    stale.mkdir(parents=True)
    (stale / "config.ini").write_text(f"IbPassword={FAKE['password']}\n")
    other = tmp_path / "tmp" / "ibc-notes"  # not one of ours: kept
    other.mkdir()
    (other / "README").write_text("kept\n")
    monkeypatch.setenv("STANDIN_EXIT", "0")
    ibc = launcher(ibc_home)
    ibc.start()
    try:
        wait_exit(ibc)
    finally:
        ibc.stop()
    assert not stale.exists()
    assert (other / "README").exists()
