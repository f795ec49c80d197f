"""What a local stack is asked for: its project, trading mode, state folder, images and worker
environment (`StackOptions`), and the images `make up` and `make demo` take from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from deploy.processes import StackError

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class StackOptions:
    project: str = "local-ib"
    trading_mode: str = "paper"
    state_dir: Path = ROOT / ".devstack"
    worker_env: dict[str, str] = field(default_factory=dict)
    retry_backoff: tuple[int, int] = (1, 10)
    max_delivery_attempts: int = 20
    worker_output_to_console: bool = False
    config_file: Path = ROOT / "config.yaml"  # the trading config, as `config apply` writes it
    dashboard: bool = True  # `python -m dashboard` next to the worker, publishing for its mode
    # Run the worker (dashboard) inside this image instead of from the source tree: `make up
    # WORKER_IMAGE=localhost/ib-worker:local` (deploy/images/container.py). The worker's gateway
    # mode is then `ibc`, on the image's IB Gateway and IBC (stand-ins when built here).
    worker_image: str | None = None
    dashboard_image: str | None = None
    # The gateway in its own container of this image (`make up GATEWAY=container`), kept running
    # by `python -m worker.gateway.always_on`; the worker then connects in `external` mode.
    gateway_image: str | None = None

    @property
    def log_dir(self) -> Path:
        return self.state_dir / "logs"

    @property
    def container_state(self) -> Path:
        """The state folder of processes in containers (mounted at /run/stack/state)."""
        return self.state_dir / "container-state"


@dataclass(frozen=True)
class Images:
    """StackOptions' image fields."""

    worker_image: str | None
    dashboard_image: str | None
    gateway_image: str | None

    def apply(self, options: StackOptions) -> StackOptions:
        return replace(
            options,
            worker_image=self.worker_image,
            dashboard_image=self.dashboard_image,
            gateway_image=self.gateway_image,
        )


def images_from_env() -> Images:
    """StackOptions' images from WORKER_IMAGE, DASHBOARD_IMAGE and GATEWAY=container (`make up`,
    `make demo`); the gateway's image is the worker's, by default the one `make images` built."""
    gateway = os.environ.get("GATEWAY", "")
    if gateway not in ("", "container"):
        raise StackError(f"GATEWAY={gateway!r}: give GATEWAY=container, or leave it unset")
    worker = os.environ.get("WORKER_IMAGE") or None
    return Images(
        worker_image=worker,
        dashboard_image=os.environ.get("DASHBOARD_IMAGE") or None,
        gateway_image=(worker or "localhost/ib-worker:local") if gateway else None,
    )
