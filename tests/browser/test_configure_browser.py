"""The Configure form in Debian's Chromium: every problem listed inline before queueing,
and a hostile upload name shown as text. Screenshot: ``configure_problems.png``."""

from __future__ import annotations

import pickle
import re
from collections.abc import Iterator

import pytest
from browser_support import Page, chromium_page, expect, select, settle, shoot

from pruning_core.runs.store import RunStore

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(quiet_dashboard: tuple[str, RunStore]) -> Iterator[Page]:
    with chromium_page("configure_last_state") as tab:
        yield tab


def test_problems_are_listed_and_counted_before_queueing(
    page: Page, quiet_dashboard: tuple[str, RunStore]
) -> None:
    url, store = quiet_dashboard
    page.goto(url)
    expect(page.locator('[data-testid="stSelectbox"]').first).to_be_visible(timeout=120_000)
    settle(page)
    select(page, "model", "digits_mlp")
    select(page, "structure / sparsity format", "N:M semi-structured (e.g. 2:4)")
    select(
        page,
        "allocation across layers",
        "OWL: sparser where fewer outlier activations (transformers)",
    )
    page.get_by_text("Per-layer sparsities (optional: override the allocation)").click()
    field = page.get_by_role("textbox", name="layer: sparsity, ...")
    field.fill("net.1: 0.5")
    field.press("Enter")
    settle(page)
    errors = page.locator('[data-testid="stAlertContentError"]')
    expect(errors).to_have_count(2)
    # each names the control on screen and the recipe field
    owl = "allocation across layers (allocation): 'owl' does not apply"
    expect(errors.filter(has_text=owl)).to_have_count(1)
    named = "Per-layer sparsities (layer_sparsity): 'net.1' is not a layer"
    expect(errors.filter(has_text=named)).to_have_count(1)
    expect(page.get_by_text("Fix the 2 problems above to queue this recipe.")).to_be_visible()
    expect(page.get_by_role("button", name="Queue run")).to_be_disabled()

    page.get_by_text("upload .safetensors").click()
    settle(page)
    name = "[link](javascript:alert(1)).safetensors"
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": pickle.dumps({"w": 1})}
    )
    settle(page)
    expect(errors.filter(has_text=f"weights: '{name}' is a pickle")).to_have_count(1)
    expect(page.locator('a[href^="javascript"]')).to_have_count(0)
    expect(page.get_by_text(re.compile(r"Fix the \d+ problems above"))).to_be_visible()
    shoot(page, "configure_problems")
    assert store.list_runs() == []
