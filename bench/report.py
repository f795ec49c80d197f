"""A figure measured by a benchmark, printed side by side with its target."""

from __future__ import annotations

import statistics
from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    name: str
    value: float
    unit: str
    target: float
    higher_is_better: bool = False
    baseline: float | None = None
    baseline_name: str = ""

    @property
    def met(self) -> bool:
        return self.value >= self.target if self.higher_is_better else self.value <= self.target

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
            vs = f"{self.baseline:,.1f} {self.unit} ({self.baseline_name}) → {ratio:.1f}x"
        else:
            vs = ""
        return [
            self.name,
            f"{self.value:,.1f} {self.unit}",
            f"{sign} {self.target:g} {self.unit}",
            "met" if self.met else "MISSED",
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
