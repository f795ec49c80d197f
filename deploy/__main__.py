"""`python -m deploy up` (the local stack in the foreground) and `python -m deploy demo`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from deploy.processes import StackError
from deploy.stack import LocalStack
from deploy.stack_options import ROOT, StackOptions, images_from_env
from deploy.stopping import Interrupted, StopSignals
from worker import names


def up(state_dir: Path) -> int:
    signals = StopSignals().install()
    try:
        images = images_from_env()
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    stack = LocalStack(
        images.apply(
            StackOptions(
                trading_mode=os.environ.get("TRADING_MODE", "paper"),
                worker_output_to_console=True,
                state_dir=state_dir,
            )
        )
    )
    try:
        stack.start()
        print(
            f"\nLocal stack is up. Dashboard: {stack.dashboard_url}\nIn another terminal:\n"
            f"  {stack.env_file_line()}\n"
            f"  gcloud pubsub topics publish {names.INTENTS_TOPIC} "
            f'--message=\'{{"intent":"ping"}}\'\n'
            f"  gcloud pubsub subscriptions pull {names.RESULTS_TAP_SUBSCRIPTION} --auto-ack\n"
            f"Ctrl-C stops everything.\n",
            file=sys.stderr,
            flush=True,
        )
        signals.wait()
    except Interrupted:
        pass  # the handler said so; stop() below runs with every further signal held
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        stack.stop()
        if signals.received is not None:
            print("[stack] stopped", file=sys.stderr, flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__)
    parser.add_argument("command", choices=["up", "demo", "images", "cloudbuild"])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=ROOT / ".devstack",
        help="where the env file and logs go (default: .devstack)",
    )
    parser.add_argument(
        "--rebuild-python",
        action="store_true",
        help="images: build the stand-in Python image again (debootstrap)",
    )
    parser.add_argument(
        "--substitutions",
        default="",
        help="cloudbuild: KEY=VALUE,... as gcloud builds submit takes them",
    )
    args = parser.parse_args(argv)
    if args.command == "cloudbuild":
        from deploy.images.cloudbuild import main as cloudbuild

        return cloudbuild([p for p in args.substitutions.split(",") if p])
    if args.command == "images":
        from deploy.images.build import main as images

        return images(rebuild_python=args.rebuild_python)
    if args.command == "up":
        return up(args.state_dir)
    from deploy.demo import run

    StopSignals().install()
    return run(args.state_dir / "demo")


if __name__ == "__main__":
    sys.exit(main())
