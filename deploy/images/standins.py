"""Stand-ins for the two downloads no host reachable here serves: IB's offline IB Gateway
installer and IBC's release zip. Each is built from the project's own files, byte for byte the
same for the same sources (so its SHA-256, a build argument, keeps the layer cache), and served on
127.0.0.1 while the base image builds, so that base/Dockerfile runs its real download, checksum
and install steps.

The "gateway" they install is the project's simulator: IBC's stand-in `ibcstart.sh` starts the
stand-in Java runtime as IBC starts IB Gateway, and that runs `python3 -m simulator` on the API
port of IBC's config.ini. Real builds (cloudbuild.yaml) use IB's and IBC's pinned releases.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import gzip
import hashlib
import http.server
import io
import tarfile
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent / "standins"
ROOT = HERE.parents[2]
GATEWAY_VERSION = "10.99.1s"  # s: stand-in; major 1099, a release IB never had
IBC_VERSION = "3.99.0-standin"
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Download:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


def _tar(entries: dict[str, tuple[bytes, int]]) -> bytes:
    """A gzipped tar of {path: (content, mode)}, with no time, owner or order of its own."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            data, mode = entries[path]
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), mode, 0
            info.uname = info.gname = "root"
            tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def _simulator_sources() -> dict[str, tuple[bytes, int]]:
    return {
        f"jars/simulator/{path.name}": (path.read_bytes(), 0o644)
        for path in sorted((ROOT / "simulator").glob("*.py"))
    }


def gateway_installer() -> Download:
    """installer.sh with its payload: the simulator where the gateway's jars go, install4j's
    version record, the vmoptions and the stand-in Java runtime."""
    payload = _tar(
        {
            **_simulator_sources(),
            ".install4j/i4jparams.conf": (
                f'<config><general applicationVersion="{GATEWAY_VERSION}" '
                f'applicationName="IB Gateway (stand-in)"/></config>\n'.encode(),
                0o644,
            ),
            "ibgateway.vmoptions": (b"# stand-in\n-Xmx768m\n-XX:+UseG1GC\n", 0o644),
            ".jre/bin/java": ((HERE / "java.sh").read_bytes(), 0o755),
        }
    )
    head = (HERE / "installer.sh").read_bytes()
    body = base64.encodebytes(payload)
    return Download(f"ibgateway-{GATEWAY_VERSION}-standalone-linux-x64.sh", head + body)


def ibc_zip() -> Download:
    """A zip laid out as IBC's IBCLinux release: scripts/ibcstart.sh, the start scripts, a
    config.ini (which the base image removes)."""
    files = {
        "scripts/ibcstart.sh": ((HERE / "ibcstart.sh").read_bytes(), 0o755),
        "gatewaystart.sh": ((HERE / "gatewaystart.sh").read_bytes(), 0o755),
        "config.ini": (b"# IBC's sample settings (stand-in)\nIbLoginId=\nIbPassword=\n", 0o644),
        "version": (f"{IBC_VERSION}\n".encode(), 0o644),
    }
    raw = io.BytesIO()
    with zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            data, mode = files[path]
            info = zipfile.ZipInfo(path, date_time=_EPOCH)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return Download(f"IBCLinux-{IBC_VERSION}.zip", raw.getvalue())


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@dataclass(frozen=True)
class Served:
    """The stand-ins' addresses and checksums: base/Dockerfile's build arguments."""

    base_url: str
    gateway: Download
    ibc: Download

    def build_args(self) -> dict[str, str]:
        return {
            "IB_GATEWAY_URL": f"{self.base_url}/{self.gateway.name}",
            "IB_GATEWAY_SHA256": self.gateway.sha256,
            "IB_GATEWAY_VERSION": GATEWAY_VERSION,
            "IBC_URL": f"{self.base_url}/{self.ibc.name}",
            "IBC_SHA256": self.ibc.sha256,
            "IBC_VERSION": IBC_VERSION,
        }


@contextlib.contextmanager
def served(folder: Path) -> Iterator[Served]:
    """Write the stand-ins into `folder` and serve it on 127.0.0.1 (a free port) meanwhile."""
    folder.mkdir(parents=True, exist_ok=True)
    gateway, ibc = gateway_installer(), ibc_zip()
    for download in (gateway, ibc):
        (folder / download.name).write_bytes(download.data)
    handler = functools.partial(_Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="standin-downloads", daemon=True)
    thread.start()
    try:
        yield Served(f"http://127.0.0.1:{server.server_address[1]}", gateway, ibc)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
