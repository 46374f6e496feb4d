"""Your own language model in Debian's Chromium: the dashboard started with
``--models-dir``, a local Hugging Face checkpoint and a text picked under it, a Wanda 2:4
run queued, run, and read back in perplexity with the block x projection heatmap.

Screenshots: ``own_llm_configure.png``, ``own_llm_run.png``.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import Page, chromium_page, expect, select, settle, shoot
from conftest import serve

from pruning_core.runs.store import RunStore
from pruning_core.runs.worker import Worker

pytestmark = [pytest.mark.browser, pytest.mark.slow]
TINY_LM = Path(__file__).resolve().parents[2] / "sample_models" / "tiny_lm"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, RunStore, Path]]:
    """The dashboard (no worker of its own) with ``--models-dir`` holding a checkpoint and
    a text file that are not the shipped model's own."""
    root = tmp_path / "models"
    shutil.copytree(TINY_LM, root / "my-llama")
    (root / "my-llama" / "pydoc_topics.txt").unlink()
    (root / "texts").mkdir()
    text = (TINY_LM / "pydoc_topics.txt").read_text(encoding="utf-8")
    (root / "texts" / "notes.txt").write_text(text[: len(text) // 3], encoding="utf-8")
    with serve(tmp_path, autostart=False, script_args=("--models-dir", str(root))) as (url, store):
        yield url, store, root


@pytest.fixture
def page() -> Iterator[Page]:
    with chromium_page("own_llm_last_state") as tab:
        yield tab


def test_local_checkpoint_with_own_text_runs_and_reads_in_perplexity(
    page: Page, served: tuple[str, RunStore, Path]
) -> None:
    url, store, root = served
    page.goto(url)
    expect(page.locator('[data-testid="stSelectbox"]').first).to_be_visible(timeout=120_000)
    settle(page)
    page.get_by_text("local Hugging Face checkpoint").click()
    settle(page)
    expect(page.get_by_role("combobox", name="checkpoint")).to_have_value("models/my-llama")
    # the checkpoint brings no data of its own: text under the roots comes first (the
    # previous model's data box may linger until the rerun has replaced it)
    text_data = 'input[aria-label="data"][value="text under the models roots"]'
    expect(page.locator(text_data)).to_be_visible(timeout=60_000)
    expect(page.locator('input[aria-label="data"]')).to_have_count(1, timeout=60_000)
    settle(page)
    expect(page.get_by_role("combobox", name="text file")).to_have_value("models/texts/notes.txt")
    window = page.get_by_role("spinbutton", name="tokens per window")
    window.fill("64")
    window.press("Enter")
    settle(page)
    select(page, "criterion", "wanda")
    select(page, "structure / sparsity format", "N:M semi-structured (e.g. 2:4)")
    expect(page.get_by_text("dense test perplexity")).to_be_visible()
    expect(page.locator('[data-testid="stAlertContentError"]')).to_have_count(0)
    shoot(page, "own_llm_configure")
    page.get_by_role("button", name="Queue run").click()
    expect(page.get_by_text("Queued #1.")).to_be_visible()
    (run,) = store.list_runs()
    assert run.recipe["model"] == f"hf:{(root / 'my-llama').resolve()}"
    assert run.recipe["data"]["path"] == str((root / "texts" / "notes.txt").resolve())

    Worker(store, poll_s=0.1).run(once=True)
    finished = store.get(1)
    assert finished is not None and finished.state == "done", finished
    page.goto(f"{url}/runs")
    settle(page)
    expect(page.get_by_text("test perplexity").first).to_be_visible(timeout=60_000)
    heatmap = page.locator(".js-plotly-plot").filter(has_text="q_proj").first
    expect(heatmap).to_be_visible()
    settle(page)
    shoot(page, "own_llm_run")
