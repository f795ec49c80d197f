"""The fake gcloud (tests/deploy/fake_gcloud.py) served from the test process, behind a small bash
client installed as `gcloud` on a sandbox's PATH.

A set-up run calls gcloud about a hundred times; as a Python program each call cost a fresh
interpreter (about 30 ms of CPU, most of the set-up tests' time). The client is bash alone (its
`/dev/tcp` redirection, no other program): it sends its argv, the fake's environment variables and,
for `--data-file=-`, its standard input to this server, which answers with `fake_gcloud.answer`
(the same code the stand-alone fake runs) and hands back the exit code, standard output and
standard error. The set-up still runs a real `gcloud` executable from PATH.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from tests.deploy import fake_gcloud

ENV = ("FAKE_GCLOUD_STATE", "FAKE_GCLOUD_LOG", "FAKE_GCLOUD_FAIL", "FAKE_GCLOUD_FORBID")

# Fields are NUL-terminated (no argv or environment value holds a NUL): the number of arguments,
# the arguments, the four variables ("" when unset), then standard input. The answer: exit code,
# standard output, standard error.
CLIENT = """#!{bash}
# The fake gcloud's client (tests/deploy/fake_gcloud_server.py); its server answers from
# FAKE_GCLOUD_STATE and logs to FAKE_GCLOUD_LOG.
exec 3<>/dev/tcp/127.0.0.1/{port} || exit 98
data=""
for arg in "$@"; do
    if [[ $arg == --data-file=- ]]; then IFS= read -r -d '' data || true; fi
done
printf '%s\\0' "$#" "$@" "${{FAKE_GCLOUD_STATE-}}" "${{FAKE_GCLOUD_LOG-}}" \\
    "${{FAKE_GCLOUD_FAIL-}}" "${{FAKE_GCLOUD_FORBID-}}" "$data" >&3
IFS= read -r -d '' -u 3 code || exit 98
IFS= read -r -d '' -u 3 out || true
IFS= read -r -d '' -u 3 err || true
printf '%s' "$out"
printf '%s' "$err" >&2
exit "$code"
"""


class _Call(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        fields = self._fields()
        count = int(next(fields))
        args = [next(fields) for _ in range(count)]
        env = {name: value for name in ENV if (value := next(fields))}
        stdin = next(fields)
        with _lock:
            code, out, err = fake_gcloud.answer(args, env, stdin)
        self.wfile.write(b"".join(f"{part}\0".encode() for part in (code, out, err)))

    def _fields(self) -> Iterator[str]:
        buffered = b""
        while True:
            while b"\0" in buffered:
                field, _, buffered = buffered.partition(b"\0")
                yield field.decode()
            chunk = self.request.recv(65536)
            if not chunk:
                raise ConnectionError("the client hung up mid-call")
            buffered += chunk


_lock = threading.Lock()  # one call at a time, as the set-up makes them: the state is one file


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@cache
def port() -> int:
    """The port of this process's server, started on first use; it lives as long as the process
    (a daemon thread, no child process)."""
    server = _Server(("127.0.0.1", 0), _Call)
    threading.Thread(target=server.serve_forever, name="fake-gcloud", daemon=True).start()
    return server.server_address[1]


def install(path: Path, bash: str) -> None:
    """Write the client as the executable `path` (a sandbox's `bin/gcloud`)."""
    path.write_text(CLIENT.format(bash=bash, port=port()))
    path.chmod(0o755)
