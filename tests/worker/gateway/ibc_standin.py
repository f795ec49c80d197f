"""The stand-in IBC install the gateway tests share: ibcstart_standin.sh (it runs the simulator as
the gateway) in an IBC-shaped folder, fake credentials that resemble no real ones, and an `ibc`
launcher over them. The `ibc_home` fixture (tests/worker/gateway/conftest.py) builds the folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from worker.gateway.credentials import CredentialSource
from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

STANDIN = Path(__file__).with_name("ibcstart_standin.sh")
CANARY_USERID = "canary-userid-NOT-REAL-5q"
FAKE = {"userid": CANARY_USERID, "password": "not-a-real-password-7Q"}


def make_ibc_home(root: Path) -> Path:
    (root / "ibc" / "scripts").mkdir(parents=True)
    shutil.copy(STANDIN, root / "ibc" / "scripts" / "ibcstart.sh")
    (root / "ibgateway" / "1030").mkdir(parents=True)
    (root / "ibgateway" / "1019").mkdir(parents=True)
    (root / "ibc" / "config.ini.template").write_text(
        "# template\nReadOnlyApi=yes\nAcceptIncomingConnectionAction=reject\nIbPassword=\n"
    )
    return root


def launcher_env(home: Path, **env: str) -> dict[str, str]:
    return {
        "GATEWAY_MODE": "ibc",
        "IBC_PATH": str(home / "ibc"),
        "TWS_PATH": str(home / "ibgateway"),
        "IBC_INI": str(home / "ibc" / "config.ini.template"),
        "TWS_SETTINGS_PATH": str(home / "jts"),
        "IB_CREDENTIALS_JSON": json.dumps(FAKE),
        "IB_GATEWAY_PORT": "4999",
        **env,
    }


def launcher(home: Path, **env: str) -> IbcLauncher:
    settings = Settings.from_env(launcher_env(home, **env))
    return IbcLauncher(settings, CredentialSource(settings))
