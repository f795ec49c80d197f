"""The local stack's parts that run inside images: the worker (`WORKER_IMAGE`) and the always-on
gateway (`GATEWAY=container`), each as Cloud Run or the gateway VM runs it. The stack's emulators,
simulator state and control port reach them through the host's network and mounted files."""

from __future__ import annotations

import os
from pathlib import Path

from deploy.images import container
from deploy.processes import Child, StackError
from deploy.stack_options import StackOptions

GATEWAY_COMMAND = ("python", "-m", "worker.gateway.always_on")


def _need_root() -> None:
    if os.geteuid() != 0:
        raise StackError(
            "running the stack's parts in images needs root here (buildah's chroot isolation "
            "runs the image's user): run `make up` as root, or without images"
        )


def _state_mounts(
    options: StackOptions, image: str, env: dict[str, str]
) -> list[tuple[Path, str, bool]]:
    """The simulator's account file and state in a folder the image's user may write."""
    uid, gid = container.image_user(image)
    state = options.container_state
    state.mkdir(parents=True, exist_ok=True)
    os.chown(state, uid, gid)
    mounts: list[tuple[Path, str, bool]] = [(state, "/run/stack/state", False)]
    env["SIMULATOR_PERSIST"] = "/run/stack/state/simulator-account.json"
    if env.get("SIMULATOR_STATE"):
        mounts.append((Path(env["SIMULATOR_STATE"]), "/run/stack/simulator.yaml", True))
        env["SIMULATOR_STATE"] = "/run/stack/simulator.yaml"
    return mounts


def worker(options: StackOptions, image: str, worker_env: dict[str, str]) -> Child:
    """The worker in `image` with the stack's `worker_env`, as Cloud Run runs it: the image's
    user and command, PORT, K_SERVICE and K_REVISION; gateway mode `ibc` unless GATEWAY_MODE says
    otherwise (or the stack's gateway runs in a container of its own: `external`)."""
    _need_root()
    env = dict(worker_env)
    if options.gateway_image is None:
        env["GATEWAY_MODE"] = os.environ.get("GATEWAY_MODE", "ibc")
    credentials = env.pop("IB_CREDENTIALS_JSON", None)
    if credentials is None and env["GATEWAY_MODE"] == "ibc":
        credentials = container.fake_credentials()
    mounts = _state_mounts(options, image, env)
    return container.prepare(
        "worker",
        image,
        env,
        options.log_dir / "worker.log",
        mounts=mounts,
        credentials=credentials,
        secrets_dir=options.state_dir / "secrets",
    )


def gateway(options: StackOptions, image: str, source: dict[str, str], port: int) -> Child:
    """IB Gateway through IBC kept running (`python -m worker.gateway.always_on`) in `image`, on
    the stack's gateway `port`, as the always-on VM runs it; simulator settings and credentials
    from the worker's environment `source`."""
    _need_root()
    env = {
        "GATEWAY_MODE": "ibc",
        "TRADING_MODE": options.trading_mode,
        "IB_GATEWAY_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "SIMULATOR_STATE": source.get("SIMULATOR_STATE", ""),
    }
    for key in ("SIMULATOR_CONTROL_PORT", "SIMULATOR_BOOT_DELAY"):
        if source.get(key):
            env[key] = source[key]
    credentials = source.get("IB_CREDENTIALS_JSON") or container.fake_credentials()
    mounts = _state_mounts(options, image, env)
    return container.prepare(
        "gateway",
        image,
        env,
        options.log_dir / "gateway.log",
        mounts=mounts,
        credentials=credentials,
        secrets_dir=options.state_dir / "secrets",
        command=GATEWAY_COMMAND,
    )


def dashboard(options: StackOptions, image: str, env: dict[str, str], port: int) -> Child:
    """The dashboard in `image` with the image's command, on the stack's dashboard `port`."""
    _need_root()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    return container.prepare("dashboard", image, env, options.log_dir / "dashboard.log")
