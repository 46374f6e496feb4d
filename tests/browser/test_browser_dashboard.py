"""The real app in Debian's Chromium: queue two 2:4 runs, watch one work, compare, export.

The worker runs in this test (the dashboard starts none here) and holds its first run at
its first finetune progress until the page has shown that progress: no race between a
fast run and the page's polling. Screenshots of every page land in
``test-artifacts/screenshots/`` (1400 x 2000 viewport: the main pane scrolls inside the
page, so full-page captures miss it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_support import Page, chromium_page, expect, select, settle, shoot

from pruning_core.recipe import recipe_from_yaml
from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LABELS = ("#1 magnitude 2:4 fp32 s0", "#2 taylor 2:4 fp32 s0")


class HeldStore(RunStore):
    """The store as this test's worker sees it: the first finetune progress waits for us."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.reached, self.release = threading.Event(), threading.Event()

    def update_progress(
        self, run_id: int, worker_id: str, phase: str, fraction: float, message: str
    ) -> bool:
        cancel = super().update_progress(run_id, worker_id, phase, fraction, message)
        if phase == "finetune" and not self.reached.is_set():
            self.reached.set()  # recorded, and the run stays at it until released
            self.release.wait(180)
        return cancel


@pytest.fixture
def page(quiet_dashboard: tuple[str, RunStore]) -> Iterator[Page]:
    with chromium_page("last_state", accept_downloads=True) as tab:
        yield tab


@pytest.fixture
def held_worker(quiet_dashboard: tuple[str, RunStore]) -> Iterator[tuple[HeldStore, Worker]]:
    """A worker (not yet started) on a store whose first finetune progress is held."""
    store = HeldStore(quiet_dashboard[1].path)
    worker = Worker(store, poll_s=0.1)
    yield store, worker
    store.release.set()
    worker.stop()


def go(page: Page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).click()
    expect(page.get_by_role("heading", level=1).first).to_be_visible()
    settle(page)


def plotted(page: Page, title: str) -> list[dict[str, Any]]:
    """Name, x and y of every trace of the plotly chart titled ``title`` (as drawn)."""
    chart = page.locator(".js-plotly-plot").filter(has_text=title).first
    expect(chart).to_be_visible()
    return chart.evaluate("el => el.data.map(t => ({name: t.name, x: t.x, y: t.y}))")


def queue_two_runs(page: Page, url: str) -> None:
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


def test_queue_watch_compare_export(
    page: Page,
    quiet_dashboard: tuple[str, RunStore],
    held_worker: tuple[HeldStore, Worker],
    tmp_path: Path,
) -> None:
    url, store = quiet_dashboard
    queue_two_runs(page, url)
    other = page.context.new_page()  # a second tab: its own session, the same queue
    other.goto(f"{url}/runs")
    expect(other.get_by_text(f"{LABELS[1]} · digits_mlp · queued")).to_be_visible(timeout=120_000)

    go(page, "Runs")
    held, worker = held_worker
    thread = threading.Thread(target=worker.run, kwargs={"once": True}, daemon=True)
    thread.start()
    assert held.reached.wait(300), "the worker never reported finetune progress"
    running = store.list_runs(("running",))
    assert [run.id for run in running] == [1] and running[0].phase == "finetune"
    bar = page.locator('[data-testid="stProgress"]')  # the page polls while runs are active
    shown = f"{LABELS[0]} · digits_mlp · finetune {running[0].progress:.0%}"
    expect(bar).to_contain_text(shown, timeout=60_000)
    expect(page.get_by_text(f"{LABELS[1]} · digits_mlp · queued")).to_be_visible()
    shoot(page, "2_runs_in_progress")
    held.release.set()
    thread.join(300)
    assert store.counts()["done"] == 2, store.list_runs()
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
    for label in LABELS:
        expect(page.get_by_role("heading", name=label)).to_be_visible()
    layer_charts = page.locator(".js-plotly-plot").filter(has_text="per-layer sparsity")
    expect(layer_charts).to_have_count(3)  # one per run, side by side, plus the overlay
    for index in range(3):
        expect(layer_charts.nth(index).locator(".bars .point").first).to_be_attached()
    overlay = plotted(page, "Per-layer sparsity, overlaid")
    assert [trace["name"] for trace in overlay] == list(LABELS)
    for trace in overlay:  # 2:4 halves the pruned layers; first and last stay dense
        assert trace["x"] == ["net.1", "net.3", "net.5", "net.7"]
        assert trace["y"] == pytest.approx([0.0, 0.5, 0.5, 0.0])
    shoot(page, "4_compare")

    go(page, "Sweeps")  # no sweep queued: every finished run, one point per criterion
    accuracy = {
        run.recipe["criterion"]: run.summary["test_accuracy"]
        for run in store.list_runs(("done",))
        if run.summary
    }
    lines = plotted(page, "test accuracy vs sparsity")
    final = [trace for trace in lines if "right after pruning" not in trace["name"]]
    assert {trace["name"]: (trace["x"], trace["y"]) for trace in final} == {
        name: ([0.5], [pytest.approx(value)]) for name, value in accuracy.items()
    }
    assert len(lines) == 2 * len(final)  # each criterion also right after pruning
    expect(page.get_by_text("Add the random criterion")).to_be_visible()
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
