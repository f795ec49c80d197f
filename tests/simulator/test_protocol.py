"""Protocol edge cases: the server answers bad input with errors and never crashes."""

from __future__ import annotations

import socket
import struct

import ib_async as ib_

from simulator.protocol import frame


def raw(sim) -> socket.socket:
    return socket.create_connection(("127.0.0.1", sim.port), timeout=3)


def handshake(sock: socket.socket) -> None:
    sock.sendall(b"API\0" + frame(["v157..178"]))
    sock.recv(4096)
    sock.sendall(frame([71, 2, 77, ""]))


def read_frames(sock: socket.socket) -> list[list[str]]:
    sock.settimeout(1)
    data = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    except TimeoutError:
        pass
    out = []
    while len(data) >= 4:
        (size,) = struct.unpack(">I", data[:4])
        out.append(data[4 : 4 + size].decode().split("\0")[:-1])
        data = data[4 + size :]
    return out


def still_serves(sim) -> None:
    ib = ib_.IB()
    ib.connect("127.0.0.1", sim.port, clientId=99, timeout=5)
    assert ib.managedAccounts()
    ib.disconnect()


def test_connect_and_close_immediately(sim):
    for _ in range(5):
        raw(sim).close()
    still_serves(sim)


def test_half_a_frame_then_close(sim):
    sock = raw(sim)
    sock.sendall(b"API\0" + struct.pack(">I", 50) + b"v157")
    sock.close()
    still_serves(sim)


def test_garbage_bytes_are_refused(sim):
    sock = raw(sim)
    sock.sendall(b"GET / HTTP/1.1\r\n\r\n")
    assert sock.recv(100) == b""  # closed
    still_serves(sim)


def test_unknown_and_malformed_requests_get_errors(sim):
    sock = raw(sim)
    sock.sendall(b"API\0" + frame(["v157..178"]))
    sock.recv(4096)
    sock.sendall(
        frame([71, 2, 77, ""]) + frame([4242, 1]) + frame(["notanumber"]) + frame([9, 8, "x"])
    )
    frames = read_frames(sock)
    errors = [f for f in frames if f[0] == "4" and f[3] not in ("2104", "2106", "2158")]
    assert [e[3] for e in errors] == ["505", "505", "320"]
    sock.close()
    still_serves(sim)


def test_oversized_frame_closes_only_that_connection(sim):
    sock = raw(sim)
    sock.sendall(b"API\0" + frame(["v157..178"]))
    sock.recv(4096)
    sock.sendall(struct.pack(">I", 50_000_000) + b"x" * 1000)
    sock.settimeout(3)
    assert sock.recv(100) == b""
    still_serves(sim)


def test_version_range_without_overlap_is_refused(sim):
    sock = raw(sim)
    sock.sendall(b"API\0" + frame(["v100..120"]))
    sock.settimeout(3)
    assert sock.recv(100) == b""
    still_serves(sim)
