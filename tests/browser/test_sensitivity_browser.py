"""The Sensitivity page in Debian's Chromium: profile, move the slider, queue, predicted vs actual.

Screenshots land in ``test-artifacts/screenshots/sensitivity_*.png`` (1400 x 2000).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from browser_support import Page, chromium_page, expect, settle, shoot

from pruning_core.runs.store import RunStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(dashboard_server: tuple[str, RunStore]) -> Iterator[Page]:
    with chromium_page("sensitivity_last_state") as tab:
        yield tab


def wait_store(store: RunStore, run_id: int, timeout_s: float = 300) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        record = store.get(run_id)
        if record is not None and record.state in ("done", "failed", "cancelled"):
            assert record.state == "done", record.error
            return
        time.sleep(0.2)
    raise TimeoutError(f"run {run_id} did not finish")


def metric(page: Page, label: str) -> str:
    box = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def set_override(page: Page, row: int, value: str) -> None:
    """Type ``value`` into the overrides editor's last column at ``row`` (a canvas grid)."""
    grid = page.locator('[data-testid="stDataFrame"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    assert box is not None
    row_height = 35
    page.mouse.click(box["x"] + box["width"] - 40, box["y"] + row_height * (row + 1.5))
    page.wait_for_timeout(300)
    page.keyboard.press("Enter")  # open the cell's editor (an input in the grid's portal)
    editor = page.locator("#portal input, #portal textarea").first
    expect(editor).to_be_visible()
    editor.fill(value)
    editor.press("Enter")  # commit (the app reruns)
    settle(page)


def test_profile_edit_and_queue(page: Page, dashboard_server: tuple[str, RunStore]) -> None:
    url, store = dashboard_server
    page.goto(f"{url}/sensitivity")
    expect(page.get_by_role("button", name="Compute profile")).to_be_visible(timeout=120_000)
    settle(page)
    page.locator('[data-testid="stSelectbox"]').filter(
        has=page.get_by_text("model", exact=True)
    ).click()
    page.get_by_role("option", name="digits_cnn", exact=True).click()  # not the first listed
    settle(page)
    page.get_by_role("button", name="Compute profile").click()
    wait_store(store, 1)  # the dashboard started a worker for the profile job
    expect(page.get_by_text("average sparsity").first).to_be_visible(timeout=60_000)
    settle(page)
    assert metric(page, "average sparsity") == "90.0%"
    expect(page.locator(".js-plotly-plot")).to_have_count(2)
    shoot(page, "sensitivity_1_editor_90")

    slider = page.get_by_role("slider")
    slider.focus()
    for _ in range(10):
        slider.press("ArrowLeft")
    settle(page)
    expect(page.locator('[data-testid="stSliderThumbValue"]')).to_have_text("80%")
    expect(
        page.locator('[data-testid="stMetric"]').filter(has_text="average sparsity")
    ).to_contain_text("80.0%")
    set_override(page, row=0, value="0.5")  # features.3 fixed at 50%
    plan = page.locator(".st-key-sens_plan .js-plotly-plot")  # keyed: one element, even mid-rerun
    expect(plan).to_contain_text("50%")
    expect(
        page.locator('[data-testid="stMetric"]').filter(has_text="average sparsity")
    ).to_contain_text("80.0%")
    shoot(page, "sensitivity_2_editor_80_override")

    page.get_by_role("button", name="Queue run").click()
    expect(page.get_by_text("Queued #2 with this allocation.")).to_be_visible()
    record = store.get(2)
    assert record is not None and record.recipe["sparsity"] == 0.8
    assert record.recipe["allocation"] == "sensitivity"
    assert record.recipe["layer_sparsity"]["features.3"] == 0.5
    wait_store(store, 2)
    expect(page.get_by_role("heading", name="Predicted vs actual")).to_be_visible(timeout=60_000)
    settle(page)
    heading = page.get_by_role("heading", name="Predicted vs actual")
    heading.evaluate("element => element.scrollIntoView({block: 'start'})")
    chart = page.locator(".js-plotly-plot").filter(has_text="Predicted vs actual validation")
    expect(chart.first).to_be_visible()
    settle(page)
    shoot(page, "sensitivity_3_predicted_vs_actual")
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
