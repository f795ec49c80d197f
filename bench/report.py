"""A figure measured by a benchmark, printed side by side with its target."""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass


def number(value: float, digits: int = 3) -> str:
    """`value` to `digits` significant digits, grouped: 6.77, 250, 1,234, 0.0123."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _target(value: float) -> str:
    """A target as it was set: 50, not 50.0; a computed one like a number."""
    return f"{int(value):,}" if float(value).is_integer() else number(value)


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float
    higher_is_better: bool = False
    baseline: float | None = None
    baseline_name: str = ""
    headline: str = ""  # a line `make bench` prints under its table, e.g. "name: ratio 1.2"
    # False: printed with its target for reference, never failing the run (an absolute figure
    # whose floor on this machine is below the target; its ratio to the floor is judged).
    judged: bool = True

    @property
    def reached(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

    @property
    def met(self) -> bool:
        return self.reached or not self.judged

    @property
    def verdict(self) -> str:
        if not self.judged:
            return f"{'reached' if self.reached else 'not reached'} (not judged)"
        return "met" if self.met else "MISSED"

    def row(self) -> list[str]:
        sign = ">=" if self.higher_is_better else "<="
        if self.baseline:
            ratio = (
                self.value / self.baseline
                if self.higher_is_better
                else self.baseline / self.value
                if self.value
                else float("inf")
            )
            vs = f"{number(self.baseline)} {self.unit} ({self.baseline_name}) → {ratio:.1f}x"
        else:
            vs = ""
        return [
            self.name,
            f"{number(self.value)} {self.unit}",
            f"{sign} {_target(self.target)} {self.unit}",
            self.verdict,
            vs,
        ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(figures: list[Figure]) -> str:
    rows = [["figure", "measured", "target", "", "baseline"]] + [f.row() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def headlines(figures: list[Figure]) -> str:
    """The figures' own lines, each with its target: `push deliveries per second: 41.2`."""
    return "\n".join(
        f"{f.headline} (target {f.row()[2]}: {'met' if f.met else 'MISSED'})"
        for f in figures
        if f.headline
    )


def missed(figures: list[Figure]) -> list[Figure]:
    return [f for f in figures if not f.met]


def exit_code(figures: list[Figure]) -> int:
    """`make bench` fails (1) when any target is missed."""
    return 1 if missed(figures) else 0
