"""base/install-gateway.sh with a stand-in for IB's installer: layout, version file, heap, Java.

The real installer cannot be downloaded here; the stand-in behaves like it where the script
depends on it (`-q -dir DIR`, jars/, .install4j/i4jparams.conf, ibgateway.vmoptions, a Java
runtime unpacked under i4j_jres).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from worker.gateway.launchers import IbcLauncher
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "base" / "install-gateway.sh"

# The script runs in the base image's download stage, which has curl; the runtime image does not.
pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

FAKE_INSTALLER = """#!/usr/bin/env bash
# Stand-in for ibgateway-*-standalone-linux-x64.sh: `-q -dir DIR`.
set -euo pipefail
[[ "$1" == -q && "$2" == -dir ]] || { echo "usage: -q -dir DIR" >&2; exit 2; }
dir="$3"
mkdir -p "$dir/jars" "$dir/.install4j" "$I4J_JRES/abcd1234/17.0.10/bin"
touch "$dir/jars/twslaunch-1037.jar" "$dir/ibgateway"
printf '%s\\n' '-Xmx768m' '-XX:+UseG1GC' > "$dir/ibgateway.vmoptions"
echo "$I4J_JRES/abcd1234/17.0.10" > "$dir/.install4j/inst_jre.cfg"
printf '%s\\n' '#!/usr/bin/env bash' 'echo "openjdk version 17.0.10" >&2' \\
    > "$I4J_JRES/abcd1234/17.0.10/bin/java"
chmod +x "$I4J_JRES/abcd1234/17.0.10/bin/java"
cat > "$dir/.install4j/i4jparams.conf" <<EOF
<config><general applicationVersion="${FAKE_VERSION}">
${FAKE_MAJOR_LINE}
</general></config>
EOF
"""


def make_installer(tmp_path: Path) -> tuple[Path, str]:
    installer = tmp_path / "ibgateway-stable-standalone-linux-x64.sh"
    installer.write_text(FAKE_INSTALLER)
    return installer, hashlib.sha256(installer.read_bytes()).hexdigest()


def install(tmp_path: Path, installer: Path, **env: str) -> subprocess.CompletedProcess:
    tws = tmp_path / "opt" / "ibgateway"
    tws.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        ["bash", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": os.environ["PATH"],
            "IB_GATEWAY_URL": installer.as_uri(),
            "TWS_PATH": str(tws),
            "IB_GATEWAY_VERSION_FILE": str(tws / "VERSION"),
            "I4J_JRES": str(tmp_path / "i4j_jres"),
            "IB_GATEWAY_VERSION": "10.37.1l",
            "FAKE_VERSION": "10.37.1l",
            "FAKE_MAJOR_LINE": '<variable name="majorVersion" value="1037" />',
            **env,
        },
    )


def test_installs_where_ibc_and_the_worker_find_it(tmp_path):
    installer, digest = make_installer(tmp_path)
    result = install(tmp_path, installer, IB_GATEWAY_SHA256=digest, IB_GATEWAY_HEAP="1g")
    assert result.returncode == 0, result.stdout + result.stderr
    tws = tmp_path / "opt" / "ibgateway"
    program = tws / "ibgateway" / "1037"
    # IBC's ibcstart.sh: $TWS_PATH/ibgateway/<major>/jars and ibgateway.vmoptions.
    assert (program / "jars").is_dir()
    vmoptions = (program / "ibgateway.vmoptions").read_text().splitlines()
    assert "-Xmx1g" in vmoptions and "-Xmx768m" not in vmoptions
    assert (tws / "VERSION").read_text().strip() == "1037"
    assert (tws / "1037").resolve() == program.resolve()
    # The Java runtime moved next to the gateway (the image's JAVA_PATH) and install4j knows it.
    assert os.access(tws / "jre" / "bin" / "java", os.X_OK)
    assert (program / ".install4j" / "inst_jre.cfg").read_text().strip() == str(tws / "jre")
    assert not (tmp_path / "i4j_jres").exists()
    assert not (tws / ".staging").exists()
    # The worker's `ibc` launcher reads the version from IB_GATEWAY_VERSION_FILE's default.
    launcher = IbcLauncher(Settings(tws_path=tws), credentials=None)
    assert launcher.gateway_version() == "1037"
    assert "--tws-path=" + str(tws) in launcher.command(tmp_path / "config.ini")


def test_a_wrong_sha256_stops_the_build_and_says_how_to_pin(tmp_path):
    installer, _ = make_installer(tmp_path)
    result = install(tmp_path, installer, IB_GATEWAY_SHA256="0" * 64)
    assert result.returncode != 0
    assert "deploy/update-gateway.sh" in result.stderr
    assert not (tmp_path / "opt" / "ibgateway" / "VERSION").exists()


@pytest.mark.parametrize(
    "pin",
    [
        {"IB_GATEWAY_SHA256": ""},
        {"IB_GATEWAY_SHA256": "abc"},
        {"IB_GATEWAY_VERSION": ""},
        {"IB_GATEWAY_VERSION": "stable"},
        {"IB_GATEWAY_VERSION": "10.37.1l; rm -rf /"},
    ],
)
def test_an_unpinned_build_stops_before_downloading(tmp_path, pin):
    installer, digest = make_installer(tmp_path)
    result = install(tmp_path, installer, **{"IB_GATEWAY_SHA256": digest, **pin})
    assert result.returncode != 0
    assert "deploy/update-gateway.sh" in result.stderr
    assert "downloading" not in result.stdout


def test_an_installer_of_another_release_stops_the_build(tmp_path):
    installer, digest = make_installer(tmp_path)
    result = install(tmp_path, installer, IB_GATEWAY_SHA256=digest, FAKE_VERSION="10.38.1a")
    assert result.returncode != 0
    assert "10.38.1a" in result.stderr and "10.37.1l" in result.stderr
    assert not (tmp_path / "opt" / "ibgateway" / "VERSION").exists()


@pytest.mark.parametrize(
    ("env", "major"),
    [
        ({}, "1037"),
        ({"IB_GATEWAY_VERSION": "10.30.1t", "FAKE_VERSION": "10.30.1t"}, "1030"),
        ({"IB_GATEWAY_MAJOR": "1040"}, "1040"),
    ],
)
def test_the_major_version_comes_from_the_pin(tmp_path, env, major):
    installer, digest = make_installer(tmp_path)
    result = install(tmp_path, installer, IB_GATEWAY_SHA256=digest, **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "opt" / "ibgateway" / "VERSION").read_text().strip() == major
    assert (tmp_path / "opt" / "ibgateway" / "ibgateway" / major / "jars").is_dir()
