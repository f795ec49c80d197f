"""What every request of the dashboard shares: settings, the records reader, submissions."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from dashboard.security import Submissions
from dashboard.settings import Settings
from publisher.records import Records


@dataclass
class Context:
    settings: Settings
    records: Records
    submissions: Submissions = field(default_factory=Submissions)


def ctx() -> Context:
    return current_app.extensions["dashboard"]
