"""Which parts of the local stack run in images, from `make up`'s variables."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from deploy.processes import StackError
from deploy.stack_options import ROOT, images_from_env


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (None, None, None)),
        ({"WORKER_IMAGE": "w:1"}, ("w:1", None, None)),
        ({"GATEWAY": "container"}, (None, None, "localhost/ib-worker:local")),
        (
            {"GATEWAY": "container", "WORKER_IMAGE": "w:1", "DASHBOARD_IMAGE": "d"},
            ("w:1", "d", "w:1"),
        ),
    ],
)
def test_images_come_from_the_variables(monkeypatch, env, expected):
    for key in ("WORKER_IMAGE", "DASHBOARD_IMAGE", "GATEWAY"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    images = images_from_env()
    assert (images.worker_image, images.dashboard_image, images.gateway_image) == expected


def test_an_unknown_gateway_is_one_line_before_anything_starts(monkeypatch, tmp_path):
    monkeypatch.setenv("GATEWAY", "vm")
    with pytest.raises(StackError, match="GATEWAY='vm': give GATEWAY=container"):
        images_from_env()
    done = subprocess.run(
        [sys.executable, "-m", "deploy", "up", "--state-dir", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GATEWAY": "vm"},
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: GATEWAY='vm': give GATEWAY=container, or leave it unset"
    ]
    assert not (tmp_path / "logs").exists()  # nothing was started
