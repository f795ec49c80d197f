"""A local webhook receiver for the notifier's tests: records every POST, answers a set status."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Post:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    posts: list[Post] = field(default_factory=list)
    status: int = 200
    arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, count: int, timeout: float = 60) -> list[Post]:
        """The posts once there are at least `count` (the timeout only bounds a failure)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.posts) >= count, timeout)
            return list(self.posts)


def start(status: int = 200) -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            post = Post(self.path, dict(self.headers.items()), self.rfile.read(length))
            with receiver.arrived:
                receiver.posts.append(post)
                receiver.arrived.notify_all()
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server, status=status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop(receiver: Receiver) -> None:
    receiver.server.shutdown()
    receiver.server.server_close()
