"""Error pages the HTTP server writes itself, before a request reaches Flask (issue 25): a
100 KiB query string, 10,000 parameters, too many or too large headers, a malformed request
line, a form over the size limit. Under both servers the dashboard runs under (werkzeug for
`python -m dashboard`, gunicorn with dashboard.serving.Worker as in dashboard/Dockerfile), every
such answer carries the security headers. Real server processes, stopped on every path."""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.security import HEADERS
from deploy.processes import Child, free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = {"GOOGLE_CLOUD_PROJECT": "test-project", "PYTHONPATH": str(ROOT)}


def exchange(port: int, raw: bytes) -> tuple[int, dict[str, str]]:
    """Send `raw`, read the answer's head: its status and headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        with contextlib.suppress(OSError):  # the server may answer before taking everything
            sock.sendall(raw)
        data = b""
        with contextlib.suppress(ConnectionResetError):
            while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
                data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    assert head[0].startswith("HTTP/1."), head[0]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(head[0].split()[1]), headers


def _up(port: int) -> bool:
    try:
        return (
            exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")[0]
            == 200
        )
    except OSError:
        return False


def _serve(name: str, command: list[str], port: int, tmp_path: Path) -> Iterator[int]:
    child = Child(name, command, tmp_path / f"{name}.log", env=ENV, cwd=ROOT).start()
    try:
        child.wait_until(lambda: _up(port), 60, f"the dashboard under {name}")
        yield port
    finally:
        child.stop()
        assert not child.running


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def server(request, tmp_path_factory) -> Iterator[int]:
    port = free_port()
    tmp = tmp_path_factory.mktemp(request.param)
    if request.param == "werkzeug":
        command = [sys.executable, "-m", "dashboard", "--port", str(port)]
    else:
        command = [
            sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
            "--threads", "2", "--worker-class", "dashboard.serving.Worker",
            "dashboard:create_app()",
        ]  # fmt: skip
    yield from _serve(request.param, command, port, tmp)


def _get(target: str, extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode()


BODY = b"intent=ping&p.x=" + b"a" * (300 * 1024)
REQUESTS = {
    "query string of 100 KiB": _get("/intents?mode=" + "a" * 100 * 1024),
    "10,000 parameters": _get("/intents?" + "&".join(f"p{i}=1" for i in range(10_000))),
    "200 headers": _get("/intents", "".join(f"X-H{i}: 1\r\n" for i in range(200))),
    "a header of 100 KiB": _get("/intents", f"X-Big: {'a' * 100 * 1024}\r\n"),
    "a malformed request line": b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n",
    "a form over the size limit": (
        b"POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(BODY)}\r\n\r\n".encode()
        + BODY
    ),
}


@pytest.mark.parametrize("what", list(REQUESTS))
def test_every_error_answer_carries_the_security_headers(server, what) -> None:
    status, headers = exchange(server, REQUESTS[what])
    assert status >= 400, what
    missing = [name for name in HEADERS if name.lower() not in headers]
    assert missing == [], f"{what}: {status} without {missing}"
    assert headers["content-security-policy"] == HEADERS["Content-Security-Policy"]
