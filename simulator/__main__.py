"""`python -m simulator`: run the simulator until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4002)
    parser.add_argument("--state", type=Path, help="YAML file overriding the default state")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--boot-delay",
        type=float,
        default=0.0,
        help="keep the API port closed this long, like a gateway logging in",
    )
    parser.add_argument("--control-port", type=int, help="HTTP control interface port")
    parser.add_argument("--trading-mode", choices=["paper", "live"], default="paper")
    parser.add_argument(
        "--persist",
        type=Path,
        help="keep orders, executions, positions and cash in this JSON file across restarts",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s simulator %(levelname)s %(message)s",
    )
    try:
        sim = Simulator(
            args.host,
            args.port,
            args.state,
            args.seed,
            args.boot_delay,
            args.control_port,
            args.trading_mode,
            args.persist,
        )
    except (OSError, ValueError, TypeError) as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_run(sim))
    except KeyboardInterrupt:  # another signal while it was already stopping: done anyway
        return 130
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # nothing is left to interrupt


async def _run(sim: Simulator) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await sim.serve()
    except OSError as exc:
        print(f"simulator: {exc}", file=sys.stderr)
        return 2
    control = f" (control {sim.host}:{sim.control_port})" if sim.control_port else ""
    print(f"simulator: API listening on {sim.host}:{sim.port}{control}", flush=True)
    await stop.wait()
    # Stopping: another signal ends the process at once and quietly (the persisted state is
    # written atomically), never as a KeyboardInterrupt somewhere in asyncio's teardown.
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.remove_signal_handler(sig)
        signal.signal(sig, signal.SIG_DFL)
    await sim.api.stop()
    await sim.control.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
