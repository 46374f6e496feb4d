"""Issue 14 in Debian's Chromium, from a fresh store: the first start queues the example
sweep (item 10), Sweeps draw the metric right after pruning (3), the Runs table selects rows
to compare and to delete with a confirmation (6), Compare pins the random baseline (5),
Speed & size draws one measured bar per configuration and "n/a" sizes (1).

Screenshots: ``test-artifacts/screenshots/polish_*.png``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from browser_support import Page, chromium_page, expect, settle, shoot

from pruning_core.runs.store import RunStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROW_PX, HEADER_PX = 35, 35


@pytest.fixture
def page(dashboard_server: tuple[str, RunStore]) -> Iterator[Page]:
    with chromium_page("polish_last_state") as tab:
        yield tab


def open_page(page: Page, url: str, heading: str) -> None:
    page.goto(url)
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible(timeout=120_000)
    settle(page)


def chart(page: Page, title: str) -> dict[str, Any]:
    """Traces (name, x, y, text) and annotation texts of the plotly chart titled ``title``."""
    element = page.locator(".js-plotly-plot").filter(has_text=title).first
    expect(element).to_be_visible()
    return element.evaluate(
        "el => ({traces: el.data.map(t => ({name: t.name, x: t.x, y: t.y, text: t.text})),"
        " notes: (el.layout.annotations || []).map(a => a.text)})"
    )


def tick_row(page: Page, row: int) -> None:
    """Tick the selection box of ``row`` in the Runs table (a canvas grid)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 16, box["y"] + HEADER_PX + ROW_PX * row + ROW_PX / 2)
    settle(page)


def wait_done(store: RunStore, count: int, timeout_s: float = 900) -> None:
    deadline = time.time() + timeout_s
    while store.counts()["done"] < count:
        counts = store.counts()
        assert counts["failed"] == 0, store.list_runs(("failed",))
        assert time.time() < deadline, f"only {counts} after {timeout_s} s"
        time.sleep(1.0)


def test_first_start_to_every_chart(page: Page, dashboard_server: tuple[str, RunStore]) -> None:
    url, store = dashboard_server
    for path, heading in (("sweeps", "Criteria sweeps"), ("speedups", "Speed and size")):
        open_page(page, f"{url}/{path}", heading)
        expect(page.get_by_text("No finished runs yet").first).to_be_visible()
    open_page(page, f"{url}/compare", "Compare runs")
    expect(page.get_by_role("heading", name="Get started")).to_be_visible()
    shoot(page, "polish_1_first_start")
    page.get_by_role("button", name="Queue the example sweep (9 runs)").click()
    expect(page.get_by_text("9 run(s) queued or running")).to_be_visible(timeout=60_000)
    settle(page)
    shoot(page, "polish_2_example_queued")
    wait_done(store, 9)

    open_page(page, f"{url}/sweeps", "Criteria sweeps")  # item 3: after pruning, a 2nd curve
    drawn = {t["name"]: dict(zip(t["x"], t["y"], strict=True)) for t in
             chart(page, "test accuracy vs sparsity")["traces"]}  # fmt: skip
    after = {name: values for name, values in drawn.items() if "right after pruning" in name}
    assert set(after) == {f"{c} · right after pruning (val)" for c in
                          ("magnitude", "taylor", "random (baseline)")}  # fmt: skip
    random_90 = after["random (baseline) · right after pruning (val)"][0.9]
    assert random_90 < after["magnitude · right after pruning (val)"][0.9]
    shoot(page, "polish_3_sweeps_after_pruning")

    open_page(page, f"{url}/runs", "Runs")  # item 6: full height, select, compare, delete
    grid = page.locator('[data-testid="stDataFrame"]').first
    assert (grid.bounding_box() or {"height": 0})["height"] >= HEADER_PX + ROW_PX * 9
    metrics = page.locator('[data-testid="stMetric"]')
    expect(metrics.filter(has_text="val acc. right after pruning")).to_contain_text("pp by")
    expect(page.get_by_text("None", exact=True)).to_have_count(0)
    ids = [run.id for run in store.list_runs()]  # the table's order: newest first
    tick_row(page, ids.index(3))  # magnitude 90%
    tick_row(page, ids.index(6))  # taylor 90%
    shoot(page, "polish_4_runs_selected")
    page.get_by_role("button", name="Compare selected (2)").click()
    expect(page.get_by_role("heading", name="Compare runs", level=1)).to_be_visible()
    settle(page)

    page.get_by_text("pin the matching random-baseline run").click()  # item 5
    settle(page)
    headings = page.locator("h4")
    expect(headings).to_have_count(3)
    expect(headings.nth(2)).to_contain_text("#9 random unstructured 90% fp32 s0")
    overlay = chart(page, "Per-layer sparsity, overlaid")
    assert len(overlay["traces"]) == 3
    assert overlay["notes"].count("dense") == 2  # first and last layer: one label each
    shoot(page, "polish_5_compare_baseline")

    open_page(page, f"{url}/runs", "Runs")
    tick_row(page, ids.index(1))
    page.get_by_role("button", name="Delete selected (1)").click()
    expect(
        page.get_by_text("Delete 1 run(s): #1 magnitude unstructured 50% fp32 s0?")
    ).to_be_visible()
    assert store.get(1) is not None  # asked first
    page.get_by_role("button", name="Yes, delete").click()
    expect(
        page.get_by_text("Deleted 1 run(s) (#1 magnitude unstructured 50% fp32 s0)")
    ).to_be_visible()
    assert store.get(1) is None
    shoot(page, "polish_6_runs_deleted")

    open_page(page, f"{url}/speedups", "Speed and size")  # item 1
    measured = chart(page, "Measured speedup")
    (bars,) = measured["traces"]
    assert len(bars["y"]) == len(set(bars["y"]))  # one bar per configuration
    twice = [n for n in measured["notes"] if "median of 2" in n]
    assert twice and all("cpu: " in n and " · 20" in n for n in measured["notes"])
    expect(page.get_by_text("2:4 GPU speedup").first).to_be_visible()
    size = page.locator(".js-plotly-plot").filter(has_text="Model size by format")
    size.first.scroll_into_view_if_needed()
    sizes = chart(page, "Model size by format")
    shown = [text for trace in sizes["traces"] for text in trace["text"]] + sizes["notes"]
    assert "n/a" in shown  # 2:4 holds none of an unstructured run's layers
    settle(page)
    shoot(page, "polish_7_speed_size")
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
