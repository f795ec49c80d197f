"""Launchers, chosen by `GATEWAY_MODE`: where the API port is and what runs behind it.

- `ibc`: IB Gateway started by IBC's `ibcstart.sh` (production, from the base image)
- `external`: a gateway that is already running (an always-on VM, a desktop TWS)
- `simulator`: the project's TWS-protocol simulator as a child process (local stack, tests)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from worker.exceptions import GatewayError
from worker.gateway.credentials import CredentialSource
from worker.gateway.process import GatewayProcess, clear_port
from worker.gateway.properties import properties_value
from worker.settings import Settings

log = logging.getLogger("worker.gateway")

# IBC's own exit codes. IBC calls System.exit(1111) or (1112); Linux keeps only the low byte of a
# process's exit status, so ibcstart.sh and this launcher see 87 and 88 (1111 % 256, 1112 % 256).
IBC_ERROR_CODES = {
    1111: "second-factor authentication was not completed in time (IBC's 1111, "
    "ExitAfterSecondFactorAuthenticationTimeout): approve the login on IBKR Mobile within the "
    "time IB allows, or use GATEWAY_MODE=external with an always-on gateway",
    1112: "the login dialog did not appear in time (IBC's 1112, LoginDialogDisplayTimeout): the "
    "gateway is slow to start or hung (more memory or CPU, or check the gateway log)",
}
IBC_EXIT_CODES = {code % 256: why for code, why in IBC_ERROR_CODES.items()} | IBC_ERROR_CODES
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
        clear_port(self.name, self.host, self.port)
        self.process = GatewayProcess("simulator", command, cwd=str(ROOT), port=self.port).start()


class IbcLauncher(Launcher):
    """IB Gateway through IBC, the credentials in a `config.ini` that exists only in memory.

    IBC reads its config.ini once, when its Java process starts (java.util.Properties), and again
    whenever ibcstart.sh restarts that process (second-factor timeout, cold restart). The file is
    an anonymous memory file (memfd) handed to IBC as `/proc/self/fd/N`: it is never on a disk
    or in a directory, only IBC's processes hold it after the start, and it is gone with them,
    whatever kills them.
    """

    name = "ibc"

    def __init__(
        self,
        settings: Settings,
        credentials: CredentialSource,
        on_line: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(settings)
        self.credentials = credentials
        self.on_line = on_line  # IBC's output lines (a second-factor wait is seen there)
        self._ini_fd: int | None = None

    def gateway_version(self) -> str:
        s = self.settings
        version_file = s.gateway_version_file or s.tws_path / "VERSION"
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

    def ini_text(self) -> str:
        """IBC's config.ini: the template with the credentials and the worker's settings."""
        s, creds = self.settings, self.credentials.get()
        template = s.ibc_ini.read_text() if s.ibc_ini.is_file() else ""
        overrides = {
            "IbLoginId": creds.userid,
            "IbPassword": creds.password,
            "TradingMode": s.trading_mode,
            "ReadOnlyApi": "no",
            "OverrideTwsApiPort": str(self.port),
            # the daily restart keeps the session, no new second factor (GATEWAY_RESTART_TIME)
            "AutoRestartTime": s.gateway_calendar.ibc_auto_restart_time(datetime.now(UTC)),
        }
        kept = [
            line for line in template.splitlines() if line.split("=", 1)[0].strip() not in overrides
        ]
        ours = [f"{k}={properties_value(v)}" for k, v in overrides.items()]
        return "\n".join([*kept, *ours]) + "\n"  # later keys win in Properties: ours are last

    def write_ini(self) -> Path:
        """The config.ini in a memory file (mode 600); the path is valid in this process and,
        once started, in IBC's."""
        self.close_ini()
        try:
            fd = os.memfd_create("ibc-config.ini", os.MFD_CLOEXEC)
        except (AttributeError, OSError) as exc:
            raise GatewayError(
                "ibc-memfd",
                f"cannot create the in-memory IBC config.ini ({exc.__class__.__name__}): the "
                f"ibc mode needs Linux memfd_create (Cloud Run's second-generation environment)",
                retryable=False,
            ) from None
        self._ini_fd = fd
        os.fchmod(fd, 0o600)
        try:
            data = memoryview(self.ini_text().encode("latin-1"))  # how Properties reads it
        except UnicodeEncodeError:
            raise GatewayError(
                "ibc-install",
                f"{self.settings.ibc_ini} has characters outside ISO-8859-1, which IBC cannot "
                f"read: write them as \\uXXXX",
                retryable=False,
            ) from None
        while data:
            data = data[os.write(fd, data) :]
        return Path(f"/proc/self/fd/{fd}")

    def close_ini(self) -> None:
        if self._ini_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._ini_fd)
            self._ini_fd = None

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
        remove_stale_ini_files()
        clear_port(self.name, self.host, self.port)
        env = {}
        xvfb = self._display()
        if xvfb is not None:
            env["DISPLAY"] = xvfb
        ini = self.write_ini()
        try:
            assert self._ini_fd is not None
            self.process = GatewayProcess(
                "ibc",
                self.command(ini),
                env=env,
                pass_fds=(self._ini_fd,),
                port=self.port,
                on_line=self.on_line,
            ).start()
        finally:
            self.close_ini()  # IBC's processes hold it from here on

    def _display(self) -> str | None:
        """Start Xvfb when DISPLAY names no running X server; returns the DISPLAY to use."""
        display = os.environ.get("DISPLAY", "")
        number = display.rsplit(":", 1)[-1].split(".")[0] if ":" in display else ""
        if number and Path(f"/tmp/.X11-unix/X{number}").exists():
            return None
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            return None  # IBC will say it has no display; the log tail shows it
        self._xvfb: GatewayProcess | None = GatewayProcess(
            "xvfb", [xvfb, ":99", "-screen", "0", "1024x768x24", "-nolisten", "tcp"]
        ).start()
        return ":99"

    def stop(self) -> None:
        super().stop()
        xvfb = getattr(self, "_xvfb", None)
        if xvfb is not None:
            xvfb.stop()
            self._xvfb = None
        self.close_ini()


def remove_stale_ini_files() -> None:
    """Earlier versions wrote config.ini into `$TMPDIR/ibc-*/`; one left by a killed worker still
    holds a password. Remove such directories (only those of this user holding just that file)."""
    for folder in Path(tempfile.gettempdir()).glob("ibc-*"):
        with contextlib.suppress(OSError):
            if folder.is_symlink() or not folder.is_dir() or folder.stat().st_uid != os.getuid():
                continue
            if {p.name for p in folder.iterdir()} <= {"config.ini"}:
                shutil.rmtree(folder)
                log.warning(
                    "removed a stale IBC config.ini left by an earlier worker in %s", folder
                )


def launcher_for(
    settings: Settings,
    credentials: CredentialSource,
    on_line: Callable[[str], None] | None = None,
) -> Launcher:
    if settings.gateway_mode == "ibc":
        return IbcLauncher(settings, credentials, on_line)
    if settings.gateway_mode == "simulator":
        return SimulatorLauncher(settings)
    return Launcher(settings)
