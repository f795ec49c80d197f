"""The broker-side state: account, cash, positions and instruments, with a YAML override."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from simulator.catalogue import by_con_id
from simulator.instruments import Instrument, Position
from simulator.market import default_instruments


@dataclass
class Faults:
    """Faults a test can switch on at start or at run time."""

    boot_delay: float = 0.0
    hang_handshake: float = 0.0
    response_delay: float = 0.0
    drop_on_next_order: bool = False
    reject_next_order: str | None = None
    read_only: bool = False
    competing_session: bool = False
    pacing_violation: bool = False
    drop_on_request: int | None = None  # drop every connection when this request id arrives
    drop_after_orders: int | None = None  # drop every connection after this many more orders
    stall_after_orders: int | None = None  # stop answering after this many more orders
    partial_fill: float | None = None  # market orders fill this fraction; the rest rests
    freeze_prices: bool = False  # quotes stop walking: exact sizes for order arithmetic
    market_data_unsubscribed: bool = False  # live market data gets 354; delayed (3, 4) works
    no_market_data: list[str] = field(default_factory=list)  # these symbols alone, the same way
    pacing_limits: bool = True  # historical requests beyond IB's limits get 162 (simulator/pacing)
    pacing_silent: bool = False  # ... or no answer at all, as IB also does
    halted: list[str] = field(default_factory=list)  # no trades: price and last-trade time stand


def fault_problem(values: dict[str, Any]) -> str | None:
    """Why `values` cannot be set as faults (unknown, wrongly typed, out of range), or None."""
    types = {f.name: str(f.type) for f in fields(Faults)}
    unknown = sorted(set(values) - set(types))
    if unknown:
        return f"unknown faults {unknown}; known {sorted(types)}"
    wrong = [k for k, v in values.items() if not _fits(v, types[k])]
    if wrong:
        return "wrong type for " + ", ".join(f"{k}: {types[k]}" for k in wrong)
    fraction = values.get("partial_fill")
    if fraction is not None and not 0 < fraction < 1:
        return f"partial_fill must be between 0 and 1, got {fraction}"
    return None


def _fits(value: Any, annotation: str) -> bool:
    """Whether a JSON value suits a Faults field annotated `annotation` (e.g. "int | None")."""
    kinds = {"bool": (bool,), "int": (int,), "float": (int, float), "str": (str,)}
    parts = [p.strip() for p in annotation.split("|")]
    if value is None:
        return "None" in parts
    if "list[str]" in parts:
        return isinstance(value, list) and all(isinstance(v, str) and v for v in value)
    if isinstance(value, bool):
        return "bool" in parts
    return any(isinstance(value, kinds.get(p, ())) for p in parts)


@dataclass
class State:
    account: str = "DU1234567"
    base_currency: str = "USD"
    cash: dict[str, float] = field(
        default_factory=lambda: {"USD": 100_000.0, "EUR": 12_000.0, "CHF": 8_000.0}
    )
    fx: dict[str, float] = field(
        default_factory=lambda: {  # base currency per unit
            "USD": 1.0,
            "EUR": 1.08,
            "CHF": 1.12,
            "GBP": 1.27,
        }
    )
    instruments: list[Instrument] = field(default_factory=default_instruments)
    positions: list[Position] = field(
        default_factory=lambda: [Position(756733, 100, 500.0), Position(15547841, 50, 95.0)]
    )
    faults: Faults = field(default_factory=Faults)
    next_order_id: int = 1
    clock_offset: float = 0.0  # seconds the simulator's clock is ahead of this machine's
    calendar: bool = False  # hours from the exchange calendar; set with the clock (else 24/7)

    def instrument(self, con_id: int) -> Instrument | None:
        """The state's instrument, or the made-up one the conId encodes (which joins it)."""
        found = next((i for i in self.instruments if i.conId == con_id), None)
        if found is None:
            made = by_con_id(con_id)
            return self.add(made) if made is not None else None
        return found

    def add(self, instrument: Instrument) -> Instrument:
        """Add an instrument unless one with its conId is there; the one in the state."""
        found = next((i for i in self.instruments if i.conId == instrument.conId), None)
        if found is not None:
            return found
        self.instruments.append(instrument)
        return instrument

    def market_value(self, position: Position) -> float:
        instrument = self.instrument(position.conId)
        if instrument is None:
            return 0.0
        multiplier = float(instrument.multiplier or 1)
        return (
            position.quantity * instrument.price * multiplier * self.fx.get(instrument.currency, 1)
        )

    def equity(self, position: Position) -> float:
        """What the position adds to net liquidation: its value, or for a future (whose
        notional was never paid) only its unrealized P&L."""
        instrument = self.instrument(position.conId)
        value = self.market_value(position)
        if instrument is not None and instrument.secType == "FUT":
            cost = position.quantity * position.averageCost * self.fx.get(instrument.currency, 1)
            return value - cost
        return value

    def net_liquidation(self) -> float:
        cash = sum(amount * self.fx.get(ccy, 1.0) for ccy, amount in self.cash.items())
        return cash + sum(self.equity(p) for p in self.positions)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def load(path: Path | None, trading_mode: str = "paper") -> State:
    """The default state, with the YAML file's keys on top of it."""
    state = State()
    if trading_mode == "live":
        state.account = "U1234567"
    if path is None:
        return state
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    for key in ("account", "base_currency", "next_order_id"):
        if key in data:
            setattr(state, key, data[key])
    if "cash" in data:
        state.cash = {str(k): float(v) for k, v in data["cash"].items()}
    if "fx" in data:
        state.fx.update({str(k): float(v) for k, v in data["fx"].items()})
    if "instruments" in data:
        state.instruments = [Instrument(**item) for item in data["instruments"]]
    if "positions" in data:
        state.positions = [Position(**item) for item in data["positions"]]
    if "faults" in data:
        faults = data["faults"]
        problem = fault_problem(faults) if isinstance(faults, dict) else "expected a mapping"
        if problem:
            raise ValueError(f"{path}: faults: {problem}")
        state.faults = Faults(**faults)
    return state
