"""The local stack: one definition used by `make up`, `make demo` and the test fixtures.

Pub/Sub and Firestore emulators on free ports of 127.0.0.1, the topics and subscriptions of
production (`stack_pubsub.py`), the worker run exactly as its container runs it (or in its image:
`images/in_stack.py`), the dashboard, and seeded config. What to start is `StackOptions`
(`stack_options.py`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from deploy import emulators, logview, stack_pubsub
from deploy.images import in_stack
from deploy.processes import (
    Child,
    StackError,
    free_port,
    http_answers,
    keep,
    port_open,
    remove_on_exit,
    signals_deferred,
)
from deploy.stack_options import ROOT, StackOptions
from worker import names

# The container's command (worker/Dockerfile's CMD): worker/server.py, one gunicorn worker
# process serving one request at a time.
WORKER_COMMAND = ("python", "-m", "worker.server")

# For the tests and benchmarks that publish to the stack or read from it.
INTENTS_TOPIC = names.INTENTS_TOPIC
RESULTS_TOPIC = names.RESULTS_TOPIC
DEAD_LETTER_TOPIC = names.DEAD_LETTER_TOPIC
DEAD_LETTER_SUBSCRIPTION = names.DEAD_LETTER_KEEP_SUBSCRIPTION


def _say(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


class LocalStack:
    """Start with `start()` (or `with LocalStack() as stack:`); everything stops in `stop()`."""

    def __init__(self, options: StackOptions | None = None, quiet: bool = False) -> None:
        self.options = options or StackOptions()
        self.quiet = quiet
        self.pubsub_port = free_port()
        self.firestore_port = free_port()
        self.worker_port = free_port()
        self.gateway_port = free_port()
        self.dashboard_port = free_port()
        self.log_dir = self.options.log_dir
        self.children: dict[str, Child] = {}
        self._env_file: Path | None = None

    def _progress(self, message: str) -> None:
        if not self.quiet:
            _say(message)

    # -- addresses -------------------------------------------------------------------------

    @property
    def worker_url(self) -> str:
        return f"http://127.0.0.1:{self.worker_port}/"

    @property
    def dashboard_url(self) -> str:
        return f"http://127.0.0.1:{self.dashboard_port}/"

    def topic(self, name: str) -> str:
        return stack_pubsub.topic(self.options.project, name)

    def subscription(self, name: str) -> str:
        return stack_pubsub.subscription(self.options.project, name)

    @property
    def push_subscription(self) -> str:
        return names.push_subscription(self.options.trading_mode)

    def client_env(self) -> dict[str, str]:
        """What a client (library or gcloud) needs in its environment to use this stack."""
        return {
            "GOOGLE_CLOUD_PROJECT": self.options.project,
            "PUBSUB_EMULATOR_HOST": f"127.0.0.1:{self.pubsub_port}",
            "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{self.firestore_port}",
            "CLOUDSDK_CORE_PROJECT": self.options.project,
            "CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB": f"http://127.0.0.1:{self.pubsub_port}/",
            "CLOUDSDK_AUTH_DISABLE_CREDENTIALS": "true",
            "WORKER_URL": self.worker_url,
            "IB_GATEWAY_HOST": "127.0.0.1",
            "IB_GATEWAY_PORT": str(self.gateway_port),
        }

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalStack:
        emulators.check_prerequisites()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        (self.options.state_dir / "simulator-account.json").unlink(missing_ok=True)
        (self.container_state / "simulator-account.json").unlink(missing_ok=True)
        t0 = time.monotonic()
        try:
            self._progress("starting the Pub/Sub and Firestore emulators ...")
            self._spawn(
                "pubsub", emulators.pubsub(self.pubsub_port, self.options.project, self.log_dir)
            )
            self._spawn("firestore", emulators.firestore(self.firestore_port, self.log_dir))
            with ThreadPoolExecutor(2) as pool:
                list(
                    pool.map(
                        lambda n: emulators.wait_ready(*n),
                        [
                            (self.children["pubsub"], self.pubsub_port),
                            (self.children["firestore"], self.firestore_port),
                        ],
                    )
                )
            self._progress(
                f"emulators ready (Pub/Sub :{self.pubsub_port}, Firestore :{self.firestore_port})"
            )
            os.environ.update(self.client_env())
            self._create_topics()
            self.seed_config()
            if self.options.gateway_image is not None:
                self._start_gateway()
            self._start_worker()
            self._create_push_subscription()
            if self.options.dashboard:
                self._start_dashboard()
            self._progress(
                f"stack up in {time.monotonic() - t0:.1f} s; worker at {self.worker_url}"
            )
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, name: str, child: Child) -> Child:
        self.children[name] = child  # known to stop() before it starts
        return child.start()

    def stop(self) -> None:
        """Stop every child, the last started first; no signal cuts this short."""
        with signals_deferred():
            try:
                self._stop_children()
            finally:
                if self._env_file is not None:
                    self._env_file.unlink(missing_ok=True)
                    keep(self._env_file)
                    self._env_file = None

    def _stop_children(self) -> None:
        """The last started first, each on its own: a child whose stop fails never leaves the
        others running (the first failure is raised once all were stopped)."""
        failure: BaseException | None = None
        while self.children:
            child = self.children.pop(next(reversed(self.children)))
            try:
                child.stop()
            except BaseException as exc:  # the others are stopped all the same
                failure = failure or exc
        if failure is not None:
            raise failure

    def write_env_file(self) -> Path:
        path = self._env_file = self.options.state_dir / "env"
        remove_on_exit(path)  # even when this process is killed
        env = self.client_env()
        if "dashboard" in self.children:
            env["DASHBOARD_URL"] = self.dashboard_url
        lines = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
        path.write_text("\n".join(lines) + "\n")
        return path

    def env_file_line(self) -> str:
        """Writes the env file; the shell line that loads it in another terminal (its path
        relative to the working folder when it is below it, as a person would type it)."""
        path = self.write_env_file()
        here = Path.cwd()
        shown = path.relative_to(here) if path.is_relative_to(here) else path
        return f"set -a; . {shlex.quote(str(shown))}; set +a"

    # -- parts -----------------------------------------------------------------------------

    def _create_topics(self) -> None:
        self._progress(stack_pubsub.create_topics(self.options.project))

    def _create_push_subscription(self) -> None:
        o = self.options
        self._progress(
            stack_pubsub.create_push_subscriptions(
                o.project, o.trading_mode, self.worker_url, o.retry_backoff, o.max_delivery_attempts
            )
        )

    def seed_config(self) -> None:
        from google.cloud import firestore

        from publisher.trading_config import ConfigFileError, seed
        from worker.database import StoreUnavailable

        try:
            seed(firestore.Client(project=self.options.project), self.options.config_file)
        except (ConfigFileError, StoreUnavailable) as exc:
            raise StackError(f"seeding the trading config failed: {exc}") from None
        self._progress(f"config seeded from {self.options.config_file.relative_to(ROOT)}")

    def worker_environment(self) -> dict[str, str]:
        env = {
            **self.client_env(),
            "HOST": "127.0.0.1",
            "PORT": str(self.worker_port),
            "TRADING_MODE": self.options.trading_mode,
            "GATEWAY_MODE": "external"
            if self.options.gateway_image
            else os.environ.get("GATEWAY_MODE", "simulator"),
            "SIMULATOR_STATE": os.environ.get(
                "SIMULATOR_STATE", str(ROOT / "deploy" / "local-simulator.yaml")
            ),
            # The account outlives each gateway session, as a real one does.
            "SIMULATOR_PERSIST": str(self.options.state_dir / "simulator-account.json"),
            "K_SERVICE": f"ib-{self.options.trading_mode}-local",
            "K_REVISION": "local",
            "PYTHONUNBUFFERED": "1",
            **self.options.worker_env,
        }
        env.pop("WORKER_URL", None)
        return env

    @property
    def container_state(self) -> Path:
        return self.options.container_state

    def _start_worker(self) -> None:
        image = self.options.worker_image
        if image is not None:
            worker: Child = self._spawn(
                "worker", in_stack.worker(self.options, image, self.worker_environment())
            )
        else:
            to_console = self.options.worker_output_to_console
            worker = self._spawn(
                "worker",
                Child(
                    name="worker",
                    command=[sys.executable, *WORKER_COMMAND[1:]],
                    env=self.worker_environment(),
                    cwd=ROOT,
                    log_path=None if to_console else self.log_dir / "worker.log",
                    # JSON lines stay JSON unless a person reads them at a terminal.
                    console=logview.for_terminal() if to_console and sys.stdout.isatty() else None,
                ),
            )
        worker.wait_until(http_answers(self.worker_url), 60, "answering HTTP")
        where = f"in {image}, " if image else ""
        self._progress(
            f"worker up ({where}gunicorn, 1 worker, 1 thread, mode {self.options.trading_mode})"
        )

    def _start_gateway(self) -> None:
        """The always-on gateway in its own container (GATEWAY=container): the worker connects
        to it in `external` mode, as to the always-on VM's."""
        image = self.options.gateway_image
        assert image is not None
        child = in_stack.gateway(self.options, image, self.worker_environment(), self.gateway_port)
        gateway = self._spawn("gateway", child)
        gateway.wait_until(lambda: port_open(self.gateway_port), 120, "serving the API port")
        self._progress(
            f"gateway up (in {self.options.gateway_image}, IBC, port {self.gateway_port})"
        )

    def restart_gateway(self) -> None:
        """Stop the gateway's container and start a new one, as the VM's restarts do."""
        child = self.children.pop("gateway", None)
        if child is not None:
            child.stop()
        self._start_gateway()

    def _start_dashboard(self) -> None:
        env = {
            **self.client_env(),
            "DASHBOARD_MODES": self.options.trading_mode,
            "PYTHONUNBUFFERED": "1",
        }
        if self.options.dashboard_image is not None:
            child: Child = in_stack.dashboard(
                self.options, self.options.dashboard_image, env, self.dashboard_port
            )
        else:
            child = Child(
                name="dashboard",
                command=[sys.executable, "-m", "dashboard", "--port", str(self.dashboard_port)],
                env=env,
                cwd=ROOT,
                log_path=self.log_dir / "dashboard.log",
            )
        dashboard = self._spawn("dashboard", child)
        dashboard.wait_until(http_answers(self.dashboard_url + "healthz", "ok"), 30, "answering")
        self._progress(f"dashboard at {self.dashboard_url}")

    def restart_worker(self, **env: str) -> None:
        """Stop the worker (SIGTERM to its group) and start it again with `env` on top."""
        child = self.children.pop("worker", None)
        if child is not None:
            child.stop()
        self.options.worker_env = {**self.options.worker_env, **env}
        self._start_worker()

    def start_worker_beside(self, subscribe: bool = True) -> LocalStack:
        """Only the topics, the worker and its push subscriptions (none unless `subscribe`), on
        emulators that already run at `pubsub_port` and `firestore_port` (set them first; this
        process's clients must reach the same emulators): another worker next to a stack, for
        another trading mode or project, or a second instance. `stop()` stops it; its
        subscriptions stay."""
        try:
            self._create_topics()
            self._start_worker()
            if subscribe:
                self._create_push_subscription()
        except BaseException:
            self.stop()
            raise
        return self

    @contextlib.contextmanager
    def firestore_paused(self) -> Iterator[None]:
        """Freeze the Firestore emulator (SIGSTOP to its group): calls hang, data is kept."""
        child = self.children["firestore"]
        child.pause()
        try:
            yield
        finally:
            child.resume()
