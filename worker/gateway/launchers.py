"""Launchers, chosen by `GATEWAY_MODE`: where the API port is and what runs behind it.

- `ibc`: IB Gateway started by IBC's `ibcstart.sh` (production, from the base image)
- `external`: a gateway that is already running (an always-on VM, a desktop TWS)
- `simulator`: the project's TWS-protocol simulator as a child process (local stack, tests)
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from worker.exceptions import GatewayError
from worker.gateway.credentials import CredentialSource
from worker.gateway.process import GatewayProcess
from worker.settings import Settings

IBC_EXIT_CODES = {
    87: "second-factor authentication timed out: approve the login on IBKR Mobile within the "
    "time IB allows, or use GATEWAY_MODE=external with an always-on gateway",
    88: "the login dialog did not appear in time: the gateway is slow to start or hung "
    "(more memory or CPU, or check the gateway log)",
}
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Launcher:
    """Starts nothing: connects to `host:port` (the `external` mode)."""

    settings: Settings
    host: str = "127.0.0.1"
    port: int = 0
    process: GatewayProcess | None = field(default=None, init=False)

    name = "external"

    def __post_init__(self) -> None:
        self.host = self.settings.gateway_host
        self.port = self.settings.gateway_port

    def start(self) -> None:
        """Begin starting the gateway; readiness is the connector's business."""

    def failure(self) -> str | None:
        """Why the gateway process is gone, if it is."""
        if self.process is None or self.process.exit_code is None:
            return None
        code = self.process.exit_code
        return f"{self.name} exited with code {code}" + (
            f": {IBC_EXIT_CODES[code]}" if code in IBC_EXIT_CODES else ""
        )

    def log_tail(self) -> str:
        return self.process.log_tail() if self.process else "(external gateway: no log here)"

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


class SimulatorLauncher(Launcher):
    """The project's simulator, with the boot delay of a real login."""

    name = "simulator"

    def start(self) -> None:
        s = self.settings
        command = [sys.executable, "-m", "simulator", "--host", self.host]
        command += ["--port", str(self.port), "--boot-delay", str(s.simulator_boot_delay)]
        command += ["--trading-mode", s.trading_mode]
        if s.simulator_state:
            command += ["--state", str(s.simulator_state)]
        if s.simulator_persist:
            command += ["--persist", str(s.simulator_persist)]
        if s.simulator_control_port:
            command += ["--control-port", str(s.simulator_control_port)]
        self.process = GatewayProcess("simulator", command, cwd=str(ROOT)).start()


class IbcLauncher(Launcher):
    """IB Gateway through IBC, credentials in a private, temporary `config.ini`."""

    name = "ibc"

    def __init__(self, settings: Settings, credentials: CredentialSource) -> None:
        super().__init__(settings)
        self.credentials = credentials
        self._workdir: Path | None = None

    def gateway_version(self) -> str:
        s = self.settings
        version_file = Path(os.environ.get("IB_GATEWAY_VERSION_FILE", s.tws_path / "VERSION"))
        if version_file.is_file():
            text = version_file.read_text().strip()
            if re.fullmatch(r"\d{3,4}", text):
                return text
        found = sorted(
            (p.name for p in s.tws_path.glob("*") if re.fullmatch(r"\d{3,4}", p.name)), key=int
        )
        if not found:
            raise GatewayError(
                "ibc-install",
                f"no IB Gateway version under {s.tws_path} "
                f"(expected {version_file} or a folder like {s.tws_path}/1030)",
                retryable=False,
            )
        return found[-1]

    def write_ini(self) -> Path:
        """A fresh IBC config.ini (mode 600) from the template, with the credentials."""
        s, creds = self.settings, self.credentials.get()
        template = s.ibc_ini.read_text() if s.ibc_ini.is_file() else ""
        overrides = {
            "IbLoginId": creds.userid,
            "IbPassword": creds.password,
            "TradingMode": s.trading_mode,
            "ReadOnlyApi": "no",
            "OverrideTwsApiPort": str(self.port),
        }
        kept = [
            line for line in template.splitlines() if line.split("=", 1)[0].strip() not in overrides
        ]
        self._workdir = Path(tempfile.mkdtemp(prefix="ibc-"))
        ini = self._workdir / "config.ini"
        fd = os.open(ini, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write("\n".join([*kept, *(f"{k}={v}" for k, v in overrides.items())]) + "\n")
        return ini

    def command(self, ini: Path) -> list[str]:
        s = self.settings
        args = [
            str(s.ibc_path / "scripts" / "ibcstart.sh"),
            self.gateway_version(),
            "--gateway",
            f"--mode={s.trading_mode}",
            f"--tws-path={s.tws_path}",
            f"--tws-settings-path={s.tws_settings_path}",
            f"--ibc-path={s.ibc_path}",
            f"--ibc-ini={ini}",
            f"--on2fatimeout={s.ibc_2fa_timeout_action}",
        ]
        if s.java_path:
            args.append(f"--java-path={s.java_path}")
        return args

    def start(self) -> None:
        ini = self.write_ini()
        env = {}
        xvfb = self._display()
        if xvfb is not None:
            env["DISPLAY"] = xvfb
        self.process = GatewayProcess("ibc", self.command(ini), env=env).start()

    def _display(self) -> str | None:
        """Start Xvfb when DISPLAY names no running X server; returns the DISPLAY to use."""
        display = os.environ.get("DISPLAY", "")
        number = display.rsplit(":", 1)[-1].split(".")[0] if ":" in display else ""
        if number and Path(f"/tmp/.X11-unix/X{number}").exists():
            return None
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            return None  # IBC will say it has no display; the log tail shows it
        self._xvfb = GatewayProcess(
            "xvfb", [xvfb, ":99", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]
        ).start()
        return ":99"

    def stop(self) -> None:
        super().stop()
        xvfb = getattr(self, "_xvfb", None)
        if xvfb is not None:
            xvfb.stop()
            self._xvfb = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def launcher_for(settings: Settings, credentials: CredentialSource) -> Launcher:
    if settings.gateway_mode == "ibc":
        return IbcLauncher(settings, credentials)
    if settings.gateway_mode == "simulator":
        return SimulatorLauncher(settings)
    return Launcher(settings)
