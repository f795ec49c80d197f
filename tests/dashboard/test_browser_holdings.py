"""Holdings in a real headless Chromium, as a new user clicks through it (issue 27): summary, a real
allocation, then Holdings: no false alarm, and the page says how fresh IB's picture is; then a
position changed at the broker behind the system's back (the simulator's control port) and a
fresh summary from the page's button: the real difference, with advice that would change it.
`publisher holdings` says the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator

import pytest

from deploy.processes import free_port
from deploy.stack import ROOT
from tests.dashboard import test_browser as browsing
from tests.dashboard.test_browser import publish_from_form, shoot

try:
    from playwright.sync_api import Page, expect
except ImportError:  # pragma: no cover - skipped by pytestmark
    Page = object

SPY = 756733
pytestmark = browsing.pytestmark
# The browser module's fixtures: a dashboard on the stack, one Chromium, a page that fails the
# test on a console error.
site, browser, page = browsing.site, browsing.browser, browsing.page


@pytest.fixture
def broker(worker_env, tmp_path, db) -> Iterator[int]:
    """The stack's worker on a fresh, flat simulated account, its simulator kept warm between
    intents with a control port; the allocation's exposure as in the issue. Its port."""
    port = free_port()
    worker_env(
        SIMULATOR_PERSIST=str(tmp_path / "account.json"),
        GATEWAY_KEEPALIVE_SECONDS="300",
        SIMULATOR_CONTROL_PORT=str(port),
    )
    config = db.collection("config").document("paper")
    before = config.get().to_dict() or {}
    config.set({"exposure": {"overall": 0.3}}, merge=True)
    try:
        yield port
    finally:
        config.set(before)


def control(port: int, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method="POST", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def holdings_cli(stack) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "publisher", "holdings"],
        cwd=ROOT,
        text=True,
        capture_output=True,
        timeout=120,
        env={**os.environ, **stack.client_env()},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def summary_then_allocation(page: Page, site: str) -> str:
    publish_from_form(page, site, "summary")
    expect(page.locator("#live .status").first).to_contain_text("succeeded")
    allocation = publish_from_form(page, site, "allocation", dry_run=False)
    expect(page.locator("#live .status").first).to_contain_text("succeeded")
    expect(page.locator("table.orders tbody tr:not(.fill)").first).to_contain_text("Filled")
    return allocation


def test_summary_then_allocation_then_holdings_is_no_false_alarm(
    page: Page, site: str, stack, positions_root, broker
) -> None:
    allocation = summary_then_allocation(page, site)
    page.goto(f"{site}/holdings")
    rows = page.locator("table.holdings tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="SPY").locator(".status")).to_contain_text("matches")
    expect(rows.filter(has_text="TLT").locator(".status")).to_contain_text("matches")
    expect(page.locator("tr.differs, .st-failed, [role=alert]")).to_have_count(0)
    freshness = page.locator(".freshness")
    expect(freshness).to_contain_text("IB positions as of")
    expect(freshness).to_contain_text(f"(allocation {allocation})")  # what it saw after its orders
    expect(page.get_by_text("None: every order is in the holdings.")).to_be_visible()
    shoot(page, "holdings-fresh")

    text = holdings_cli(stack)
    assert f"(allocation {allocation})" in text and "IB positions as of" in text
    assert "DIFFERS" not in text and text.count("matches") == 2


def test_a_position_changed_at_the_broker_is_found_by_a_fresh_summary(
    page: Page, site: str, stack, positions_root, broker
) -> None:
    summary_then_allocation(page, site)
    changed = control(broker, "/trade", {"conId": SPY, "quantity": -16})  # sold in TWS
    assert changed["status"] == "Filled"

    page.goto(f"{site}/holdings")
    expect(page.locator(".st-failed")).to_have_count(0)  # the system cannot know yet
    page.get_by_role("button", name="Refresh IB positions").click()
    page.wait_for_url(f"{site}/holdings?mode=paper&refresh=summary-*")
    summary = page.url.split("refresh=", 1)[1]
    page.evaluate("window.notReloaded = true")
    freshness = page.locator(".freshness")
    expect(freshness).to_contain_text(f"(summary {summary})")  # followed to its result in place
    assert page.evaluate("window.notReloaded") is True
    spy = page.locator("table.holdings tbody tr", has_text="SPY")
    expect(spy).to_have_class("differs")
    expect(spy.locator(".status")).to_contain_text("differs by 16")
    expect(
        page.locator("table.holdings tbody tr", has_text="TLT").locator(".status")
    ).to_contain_text("matches")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("1 instrument differs from IB's positions.")
    expect(alert).to_contain_text("trade-reconciliation would not change it")
    expect(alert).not_to_contain_text("Run trade-reconciliation")
    shoot(page, "holdings-differs")

    text = holdings_cli(stack)
    assert f"(summary {summary})" in text and "DIFFERS BY 16" in text
    assert "trade-reconciliation would not change it" in text
