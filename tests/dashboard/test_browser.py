"""The dashboard in a real headless Chromium (Debian's `chromium`, driven by Playwright), served
by `python -m dashboard` on the local stack: what a person does, clicked and read on the page.
Screenshots of every page at desktop and phone widths go to SCREENSHOT_DIR (default
.devstack/screenshots)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.processes import Child, free_port, http_answers
from deploy.stack import ROOT

CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / ".devstack" / "screenshots"))
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}
WAIT_MS = 60_000

try:
    from playwright.sync_api import Page, expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)  # an intent's first run starts a gateway
except ImportError:  # pragma: no cover - the dev extras install it
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    sync_playwright is None or not CHROMIUM.exists(),
    reason="no headless Chromium: `apt-get install -y chromium` and `pip install -e '.[dev]'` "
    "(.ci/run installs it)",
)


@pytest.fixture(scope="module")
def site(stack, tmp_path_factory) -> Iterator[str]:
    """`python -m dashboard` on the stack, publishing for paper and live."""
    port = free_port()
    child = Child(
        name="dashboard-browser",
        command=[sys.executable, "-m", "dashboard", "--port", str(port)],
        env={
            **stack.client_env(),
            "DASHBOARD_MODES": "paper,live",
            "DASHBOARD_POLL_SECONDS": "1",
        },
        cwd=ROOT,
        log_path=tmp_path_factory.mktemp("dashboard") / "dashboard.log",
    ).start()
    try:
        child.wait_until(http_answers(f"http://127.0.0.1:{port}/healthz", "ok"), 30, "answering")
        yield f"http://127.0.0.1:{port}"
    finally:
        child.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(WAIT_MS)
    problems: list[str] = []
    # A CSP violation or a script error shows up on the console (a 4xx page's own status too:
    # bad input is answered with 400, on purpose).
    opened.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and "the server responded with a status of 4" not in m.text
            else None
        ),
    )
    opened.on("pageerror", lambda exc: problems.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert not problems, problems


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(SHOTS / f"{name}-{width_name}.png"), full_page=True)
    width, height = WIDTHS["desktop"]
    page.set_viewport_size({"width": width, "height": height})


def publish_from_form(page: Page, site: str, intent: str, dry_run: bool | None = None) -> str:
    page.goto(f"{site}/publish?intent={intent}")
    if dry_run is not None:
        box = page.get_by_label("dryRun", exact=True)
        expect(box).to_be_checked()  # a dry run by default
        if not dry_run:
            box.uncheck()
    page.get_by_role("button", name=f"Publish {intent}").click()
    page.wait_for_url(f"{site}/intents/paper/**")
    return page.url.split("/intents/paper/", 1)[1].split("?", 1)[0]


def test_a_dry_run_allocation_appears_in_the_list_and_succeeds_without_a_reload(
    page: Page, browser, site: str, db, positions_root
) -> None:
    page.goto(f"{site}/intents")
    page.evaluate("window.notReloaded = true")
    other = browser.new_page()
    config = db.collection("config").document("paper")
    before = config.get().to_dict() or {}
    config.set({"exposure": {"overall": 0.3}}, merge=True)
    try:
        intent_id = publish_from_form(other, site, "allocation", dry_run=True)
        expect(other.locator("#live .status").first).to_contain_text("succeeded")
    finally:
        config.set(before)
        other.close()
    row = page.locator("tr", has=page.locator(f'a:text-is("{intent_id}")'))
    expect(row).to_be_visible()  # appeared by itself
    expect(row.locator(".status")).to_contain_text("succeeded")
    assert page.evaluate("window.notReloaded") is True
    shoot(page, "intents")

    row.get_by_role("link", name=intent_id).click()
    page.wait_for_url(f"**/intents/paper/{intent_id}")
    expect(page.locator("#live .status").first).to_contain_text("succeeded")
    timeline = page.locator("ol.timeline")
    for kind in ("received", "claimed", "gateway started", "finished", "result published"):
        expect(timeline.locator(".ev-type", has_text=kind).first).to_be_visible()
    orders = page.locator("table.orders tbody tr:not(.fill)")
    expect(orders.first).to_contain_text("planned")
    assert orders.count() >= 2  # SPY and TLT
    page.get_by_text("Raw JSON").click()
    expect(page.locator("details.raw pre").first).to_contain_text(f'"id": "{intent_id}"')
    shoot(page, "intent-dry-run")


def test_a_real_allocation_shows_its_fills_and_the_holdings(
    page: Page, site: str, db, positions_root
) -> None:
    config = db.collection("config").document("paper")
    before = config.get().to_dict() or {}
    config.set({"exposure": {"overall": 0.4}}, merge=True)
    try:
        intent_id = publish_from_form(page, site, "allocation", dry_run=False)
        page.evaluate("window.notReloaded = true")
        expect(page.locator("#live .status").first).to_contain_text("succeeded")
    finally:
        config.set(before)
    assert page.evaluate("window.notReloaded") is True  # followed to its result in place
    orders = page.locator("table.orders")
    expect(orders.locator("tbody tr:not(.fill)").first).to_contain_text("Filled")
    expect(orders.locator("tr.fill").first).to_contain_text("fill")
    expect(page.locator("ol.timeline .ev-type", has_text="order placed").first).to_be_visible()
    expect(page.locator("ol.timeline .ev-type", has_text="fill").first).to_be_visible()
    shoot(page, "intent-filled")

    summary = publish_from_form(page, site, "summary")
    expect(page.locator("#live .status").first).to_contain_text("succeeded")
    page.goto(f"{site}/holdings")
    table = page.locator("table.holdings")
    expect(table.locator("thead")).to_contain_text("static-weights")
    expect(table.locator("tbody")).to_contain_text("SPY")
    expect(table.locator("tbody")).to_contain_text("TLT")
    expect(page.get_by_role("link", name=summary)).to_be_visible()  # where the IB side is from
    shoot(page, "holdings")

    page.goto(f"{site}/account")
    expect(page.locator("svg.chart polyline.line-net")).to_have_count(1)
    expect(page.locator("table.values").first).to_contain_text("NetLiquidation")
    shoot(page, "account")
    assert intent_id


def test_bad_params_and_bad_filters_show_their_message(page: Page, site: str) -> None:
    page.goto(f"{site}/publish?intent=collect-market-data")
    page.get_by_label("duration").fill("3 X")
    page.get_by_role("button", name="Publish collect-market-data").click()
    expect(page.get_by_role("alert")).to_contain_text("duration")
    expect(page.locator(".field.invalid .error")).to_contain_text("does not match")
    expect(page.get_by_label("duration")).to_have_value("3 X")  # kept for correcting
    shoot(page, "publish-bad-params")

    page.goto(f"{site}/intents?status=bogus&size=7")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("status: 'bogus' is not one of")
    expect(alert).to_contain_text("size: '7' is not one of")


def test_live_without_confirmation_is_refused(page: Page, site: str) -> None:
    page.goto(f"{site}/publish?intent=ping")
    confirm = page.get_by_label("Live confirmation")
    expect(confirm).to_be_hidden()
    page.get_by_label("live", exact=True).check()
    expect(confirm).to_be_visible()
    shoot(page, "publish-live")
    page.get_by_role("button", name="Publish ping").click()
    expect(page.get_by_role("alert")).to_contain_text("live needs confirmation")
    assert "/publish" in page.url


def test_every_page_at_desktop_and_phone_widths(page: Page, site: str) -> None:
    for name, path in (
        ("publish", "/publish?intent=allocation"),
        ("schedules", "/schedules"),
        ("config", "/config"),
        ("not-found", "/intents/paper/no-such-intent"),
    ):
        page.goto(site + path)
        expect(page.locator("h1")).to_be_visible()
        shoot(page, name)
    page.emulate_media(color_scheme="dark")
    for name, path in (("intents-dark", "/intents"), ("account-dark", "/account")):
        page.goto(site + path)
        shoot(page, name)
