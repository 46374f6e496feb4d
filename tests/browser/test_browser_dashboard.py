"""The real app in Debian's Chromium: queue two 2:4 runs, watch them finish, compare, export.

Screenshots of every page land in ``test-artifacts/screenshots/`` (1400 x 2000 viewport,
because the main pane scrolls inside the page and full-page captures miss it).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import Page, chromium_page, expect, settle, shoot

from pruning_core.recipe import recipe_from_yaml
from pruning_core.runs.store import RunStore

pytest_plugins = ["conftest_dashboard"]
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(dashboard_server: tuple[str, RunStore]) -> Iterator[Page]:
    with chromium_page("last_state", accept_downloads=True) as tab:
        yield tab


def select(page: Page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSelectbox"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    settle(page)


def go(page: Page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    settle(page)


def test_queue_watch_compare_export(
    page: Page, dashboard_server: tuple[str, RunStore], tmp_path: Path
) -> None:
    url, store = dashboard_server
    page.goto(url)
    expect(page.locator('[data-testid="stSelectbox"]').first).to_be_visible(timeout=120_000)
    settle(page)
    select(page, "model", "digits_mlp")
    select(page, "structure / sparsity format", "N:M semi-structured (e.g. 2:4)")
    epochs = page.get_by_label("finetune epochs")
    epochs.fill("1")
    epochs.press("Enter")
    settle(page)
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    page.get_by_role("button", name="Queue run").click()
    expect(page.get_by_text("Queued #1.")).to_be_visible()
    select(page, "criterion", "taylor")
    page.get_by_role("button", name="Queue run").click()
    expect(page.get_by_text("Queued #2.")).to_be_visible()
    settle(page)
    shoot(page, "1_configure")

    other = page.context.new_page()  # a second tab: its own session, the same queue
    other.goto(f"{url}/runs")
    expect(other.get_by_text("#2 taylor 2:4 s0").first).to_be_visible(timeout=120_000)

    go(page, "Runs")
    seen_progress, shot, deadline = False, False, time.time() + 300
    while time.time() < deadline:  # the dashboard started a worker; watch it work
        if page.locator('[data-testid="stProgress"]').count():
            seen_progress = True
            working = [r for r in store.list_runs(("running",)) if r.phase == "finetune"]
            if not shot and working and working[0].progress >= 0.2:
                shoot(page, "2_runs_in_progress")
                shot = True
        if store.counts()["done"] == 2:
            break
        time.sleep(0.2)
    assert store.counts()["done"] == 2, store.list_runs()
    assert seen_progress, "no progress bar was shown while the runs were going"
    if not shot:
        shoot(page, "2_runs_in_progress")
    expect(page.locator('[data-testid="stSidebar"]')).to_contain_text(
        re.compile(r"2\s*done"), timeout=30_000
    )
    expect(page.get_by_text("Nothing queued or running")).to_be_visible(timeout=30_000)
    expect(other.locator('[data-testid="stSidebar"]')).to_contain_text(
        re.compile(r"2\s*done"), timeout=30_000
    )
    other.close()
    settle(page)
    expect(page.locator(".js-plotly-plot").first).to_be_visible()
    shoot(page, "3_runs")

    go(page, "Compare")
    for label in ("#1 magnitude 2:4 s0", "#2 taylor 2:4 s0"):
        expect(page.get_by_role("heading", name=label)).to_be_visible()
    layer_charts = page.locator(".js-plotly-plot").filter(has_text="per-layer sparsity")
    expect(layer_charts).to_have_count(3)  # one per run, side by side, plus the overlay
    for index in range(3):
        expect(layer_charts.nth(index).locator(".bars .point").first).to_be_attached()
    overlay = page.locator(".js-plotly-plot").filter(has_text="overlaid").first
    expect(overlay).to_contain_text("#1 magnitude 2:4 s0")
    expect(overlay).to_contain_text("#2 taylor 2:4 s0")
    shoot(page, "4_compare")

    go(page, "Sweeps")
    shoot(page, "5_sweeps")
    go(page, "Speed & size")
    expect(page.get_by_text("Theoretical speedup").first).to_be_attached()
    measured = page.get_by_text("No measurement yet on this device").or_(
        page.locator(".js-plotly-plot").filter(has_text="Measured speedup")
    )
    expect(measured.first).to_be_visible()
    shoot(page, "6_speed_size")

    go(page, "Export")
    with page.expect_download() as download:
        page.get_by_role("button", name="Recipe (YAML)").click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    recipe = recipe_from_yaml(saved.read_text())
    assert saved.name == "run_2_recipe.yaml"
    assert (recipe.model, recipe.criterion, recipe.structure.label()) == (
        "digits_mlp",
        "taylor",
        "2:4",
    )
    assert recipe.finetune.epochs == 1
    shoot(page, "7_export")
