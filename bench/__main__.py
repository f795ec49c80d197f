"""`make bench`: start the local stack once, run every benchmark, print one table."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import gateway, pipeline
from bench.report import exit_code, missed, table
from deploy.stack import LocalStack, StackOptions


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        LocalStack(StackOptions(state_dir=Path(tmp))) as stack,
    ):
        print("running benchmarks ...", file=sys.stderr, flush=True)
        figures = pipeline.run(stack) + gateway.run(stack)
    print(table(figures))
    failed = missed(figures)
    if failed:
        names = "; ".join(f.name for f in failed)
        print(f"{len(failed)} of {len(figures)} targets missed: {names}", file=sys.stderr)
    return exit_code(figures)


if __name__ == "__main__":
    sys.exit(main())
