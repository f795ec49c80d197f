"""The stand-in downloads: the same bytes for the same sources (their SHA-256 is a build argument
and keeps the layer cache), laid out as IB's installer and IBC's zip are, and run by the real
base/install-gateway.sh (test_artifacts_base.py runs that script against a fake installer; here
it runs against the stand-in the image build serves)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import urllib.request
import zipfile
from pathlib import Path

import pytest

from deploy.images import standins

ROOT = Path(__file__).resolve().parents[3]


def test_each_build_of_a_stand_in_is_byte_for_byte_the_same():
    assert standins.gateway_installer() == standins.gateway_installer()
    assert standins.ibc_zip() == standins.ibc_zip()
    assert standins.gateway_installer().sha256 != standins.ibc_zip().sha256


def test_the_ibc_zip_is_laid_out_as_ibcs_release():
    with zipfile.ZipFile(io.BytesIO(standins.ibc_zip().data)) as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
        assert modes["scripts/ibcstart.sh"] == 0o755 and modes["gatewaystart.sh"] == 0o755
        assert "config.ini" in modes  # the base image removes it


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_install_gateway_sh_downloads_verifies_and_installs_the_stand_in(tmp_path):
    with standins.served(tmp_path / "served") as served:
        args = served.build_args()
        tws = tmp_path / "opt" / "ibgateway"
        env = {
            **os.environ,
            "IB_GATEWAY_URL": args["IB_GATEWAY_URL"],
            "IB_GATEWAY_SHA256": args["IB_GATEWAY_SHA256"],
            "IB_GATEWAY_VERSION": args["IB_GATEWAY_VERSION"],
            "IB_GATEWAY_HEAP": "512m",
            "TWS_PATH": str(tws),
            "IB_GATEWAY_VERSION_FILE": str(tws / "VERSION"),
            "I4J_JRES": str(tmp_path / "i4j_jres"),
        }
        done = subprocess.run(
            ["bash", str(ROOT / "base" / "install-gateway.sh")],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        with urllib.request.urlopen(args["IBC_URL"], timeout=10) as response:
            assert response.read() == served.ibc.data
    program = tws / "ibgateway" / "1099"
    assert (tws / "VERSION").read_text().strip() == "1099"
    assert (program / "jars" / "simulator" / "__main__.py").is_file()
    assert "-Xmx512m" in (program / "ibgateway.vmoptions").read_text().splitlines()
    java = tws / "jre" / "bin" / "java"  # moved next to the gateway, as the real runtime is
    assert os.access(java, os.X_OK) and "stand-in" in done.stdout + done.stderr
    assert (program / ".install4j" / "inst_jre.cfg").read_text().strip() == str(tws / "jre")


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")
def test_a_tampered_stand_in_fails_the_checksum(tmp_path):
    with standins.served(tmp_path / "served") as served:
        args = served.build_args()
        (tmp_path / "served" / served.gateway.name).write_bytes(served.gateway.data + b"#")
        done = subprocess.run(
            ["bash", str(ROOT / "base" / "install-gateway.sh")],
            env={
                **os.environ,
                "IB_GATEWAY_URL": args["IB_GATEWAY_URL"],
                "IB_GATEWAY_SHA256": args["IB_GATEWAY_SHA256"],
                "IB_GATEWAY_VERSION": args["IB_GATEWAY_VERSION"],
                "TWS_PATH": str(tmp_path / "tws"),
                "IB_GATEWAY_VERSION_FILE": str(tmp_path / "tws" / "VERSION"),
                "I4J_JRES": str(tmp_path / "i4j_jres"),
            },
            capture_output=True,
            text=True,
            check=False,
        )
    assert done.returncode != 0 and "not the pinned" in done.stderr
    assert not (tmp_path / "tws" / "ibgateway").exists()
