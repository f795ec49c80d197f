"""The one Firestore layer of the worker, the publisher and the dashboard: one client per
process, one error for "Firestore is down" (StoreUnavailable), one retry, and every deadline in
one place (`deadlines`). What the worker stores where is in `layout`.

The publisher and the dashboard import only this package's names (and `worker.database.layout`,
`worker.database.deadlines`), never the worker's internals.
"""

from worker.database.client import Database, Options, Target
from worker.database.deadlines import CallOptions, call_options, retry_within
from worker.database.layout import STATUSES, TERMINAL, Status, Terminal, record_key
from worker.exceptions import NoCredentials, StoreRefused, StoreUnavailable

__all__ = [
    "STATUSES",
    "TERMINAL",
    "CallOptions",
    "Database",
    "NoCredentials",
    "Options",
    "Status",
    "StoreRefused",
    "StoreUnavailable",
    "Target",
    "Terminal",
    "call_options",
    "record_key",
    "retry_within",
]
