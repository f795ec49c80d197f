"""`make bench`: start the local stack once, run every benchmark, print one table, the lines of
issue 16 (each with its target) and the operations per intent kind."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench import counts, gateway, images, pipeline, push
from bench.report import exit_code, headlines, missed, table
from deploy.stack import LocalStack, StackOptions


def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="bench-") as tmp,
        LocalStack(StackOptions(state_dir=Path(tmp))) as stack,
    ):
        print("running benchmarks ...", file=sys.stderr, flush=True)
        figures = pipeline.run(stack) + push.run(stack) + gateway.run(stack)
        figures += images.run(stack)
        print("counting operations per intent kind ...", file=sys.stderr, flush=True)
        operations = counts.per_kind(stack)
    print(table(figures))
    print()
    print(headlines(figures))
    print()
    print("Operations per intent kind (Firestore reads, writes, commits, transactions; publishes):")
    print(counts.table(operations))
    failed = missed(figures)
    if failed:
        names = "; ".join(f.name for f in failed)
        print(f"{len(failed)} of {len(figures)} targets missed: {names}", file=sys.stderr)
    return exit_code(figures)


if __name__ == "__main__":
    sys.exit(main())
