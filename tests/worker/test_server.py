"""worker/server.py: one deadline for the whole request (issue 25). A client that declares
Content-Length: 1000 and trickles a byte at a time never pauses long enough for a per-read
timeout, yet it is cut off (400) once the request's deadline passes, and a ping waiting behind it
is served. Against the local stack's real worker (gunicorn, one thread) over a real socket; the
deadline itself on a socket pair."""

from __future__ import annotations

import select
import socket
import threading
import time

import pytest

from tests.support import envelope, post, unique
from tests.worker.hostile import connect, request_head
from worker.server import REQUEST_SECONDS, DeadlineSocket, RequestTooSlow

DECLARED = 1000


class Trickler(threading.Thread):
    """Sends a request head declaring DECLARED bytes, then one byte every half second, until
    the server answers (or closes) or all bytes are sent."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock, self.sent, self.reply = sock, 0, b""
        self.answered = threading.Event()
        self.stop = threading.Event()

    def run(self) -> None:
        head = {"Content-Type": "application/json", "Content-Length": str(DECLARED)}
        self.sock.sendall(request_head(head))
        while self.sent < DECLARED and not self.stop.is_set():
            readable, _, _ = select.select([self.sock], [], [], 0.5)
            if readable:  # the server answered or closed: read it all, send nothing more
                try:
                    while chunk := self.sock.recv(65536):
                        self.reply += chunk
                except OSError:
                    pass
                self.answered.set()
                return
            try:
                self.sock.sendall(b" ")
            except OSError:
                self.answered.set()
                return
            self.sent += 1


def test_a_trickling_client_is_cut_off_and_a_ping_behind_it_is_served(stack) -> None:
    sock = connect(stack, timeout=REQUEST_SECONDS * 4)
    trickler = Trickler(sock)
    try:
        trickler.start()
        time.sleep(0.5)  # the worker's only thread is now reading the trickler's body
        intent_id = unique("behind-trickle")
        status, body = post(
            stack, envelope({"intent": "ping", "id": intent_id}), timeout=REQUEST_SECONDS * 3
        )
        assert (status, body["status"]) == (200, "succeeded")
        assert trickler.answered.wait(REQUEST_SECONDS * 2), "the trickler was never cut off"
        assert trickler.sent < DECLARED  # cut off before it finished sending
        assert trickler.reply.startswith(b"HTTP/1.1 400 "), trickler.reply[:200]
        assert trickler.reply.endswith(b'{"error": "request body could not be read"}')
    finally:
        trickler.stop.set()
        trickler.join(timeout=5)
        sock.close()
        assert not trickler.is_alive()


def test_a_trickled_head_is_cut_off_with_408(stack) -> None:
    sock = connect(stack, timeout=REQUEST_SECONDS * 4)
    try:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: worker\r\n")
        reply, sent = b"", 0
        while not select.select([sock], [], [], 0.5)[0]:
            sock.sendall(b"X-A: 1\r\n")  # a header line every half second, never the end
            sent += 1
            assert sent < 200, "the head was never cut off"
        while chunk := sock.recv(65536):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 408 "), reply[:200]
        assert reply.endswith(b'{"error": "request not received in time"}')
    finally:
        sock.close()


def test_the_deadline_counts_the_whole_request_not_each_read() -> None:
    server, client = socket.socketpair()
    try:
        wrapped = DeadlineSocket(server, seconds=1.0)
        received = b""
        with pytest.raises(RequestTooSlow, match="within 1 s"):
            while True:  # each read gets its byte at once; the deadline still ends it
                client.sendall(b"x")
                received += wrapped.recv(1)
        assert len(received) > 0
        wrapped.sendall(b"answer")  # writes are bounded on their own
        assert client.recv(6) == b"answer"
    finally:
        server.close()
        client.close()


def test_past_the_deadline_a_read_fails_without_waiting() -> None:
    server, client = socket.socketpair()
    try:
        wrapped = DeadlineSocket(server, seconds=0.0)
        with pytest.raises(RequestTooSlow):
            wrapped.recv(1)
    finally:
        server.close()
        client.close()
