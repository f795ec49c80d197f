"""What every request of the dashboard shares: settings, the records reader, submissions, the
verifier of IAP's sign-in."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import current_app

from dashboard.identity import Iap
from dashboard.security import Submissions
from dashboard.settings import Settings
from publisher.records import Records


@dataclass
class Context:
    settings: Settings
    records: Records
    submissions: Submissions = field(default_factory=Submissions)
    iap: Iap = field(default_factory=Iap)  # who signed in, when IAP is in front


def ctx() -> Context:
    return current_app.extensions["dashboard"]
