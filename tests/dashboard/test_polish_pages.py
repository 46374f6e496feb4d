"""Issue 14 through AppTest: the 2:4 GPU card, after-pruning and size headlines, seed groups
and the random baseline, guardrails naming the control, queue positions and ETAs, the worker
stop, the first start, Delete's confirmation and the CLI-shaped CSV."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from app_support import charts_of, configure, errors, open_page, texts

from pruning_core.runs.store import RunStore

GPU_ROW = {
    "kind": "measured", "status": "ok", "device": "NVIDIA H200", "date": "2026-12-01T10:00:00",
    "speedup": 1.3, "dtype": "fp16", "out_features": 4096, "in_features": 4096, "tokens": 64,
}  # fmt: skip


def plain(at: object) -> str:
    """The page's texts without Markdown bold."""
    return texts(at).replace("**", "")  # type: ignore[arg-type]


def copy_runs(source: RunStore, ids: list[int], target: Path) -> RunStore:
    """A new store with ``ids`` of ``source`` (done, same summaries and artifacts, ids kept)."""
    store = RunStore(target / "runs.sqlite")
    store.register_worker("w", 1, "elsewhere")
    for run_id in range(1, max(ids) + 1):
        record = source.get(run_id)
        assert record is not None
        new_id = store.enqueue(record.recipe, sweep=record.sweep)
        if run_id not in ids:
            store.request_cancel(new_id)
            continue
        store.claim("w")
        store.finish(run_id, "w", "done", summary=record.summary)
        shutil.copytree(source.artifacts_dir(run_id), store.artifacts_dir(run_id))
    return store


@pytest.fixture
def no_gpu_results(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "gpu"
    folder.mkdir()
    monkeypatch.setenv("PRUNING_CORE_GPU_RESULTS", str(folder))
    return folder


@pytest.mark.slow
def test_gpu_card_is_never_blank(
    app_env: RunStore, no_gpu_results: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = open_page("speedups")
    assert "2:4 GPU speedup: not measured on a GPU yet." in plain(at)
    assert "python -m benchmarks.gpu_2of4 --out benchmarks/results/gpu" in [
        c.value for c in at.code
    ]
    at = open_page("runs")
    at.selectbox(key="runs_detail").set_value(1).run()  # a 2:4 run carries the card too
    assert "2:4 GPU speedup: not measured on a GPU yet." in plain(at)

    from dashboard.services import gpu

    monkeypatch.setattr(gpu, "cuda_device", lambda: "NVIDIA H200")  # a machine with CUDA
    at = open_page("speedups")
    assert "not measured yet; this machine has a CUDA GPU (NVIDIA H200)" in plain(at)
    assert at.button(key="gpu_speed_measure").label.startswith("Measure 2:4 on this GPU now")

    (no_gpu_results / "gpu_2of4.json").write_text(json.dumps({"rows": [GPU_ROW]}))
    at = open_page("speedups")
    assert "2:4 GPU speedup: measured on NVIDIA H200, 2026-12-01" in plain(at)

    at.multiselect(key="speed_runs").set_value([]).run()  # nothing picked: say so, and only so
    assert "No runs selected" in plain(at) and "No finished runs" not in plain(at)
    size = next(c for c in charts_of(at) if "size" in c["layout"]["title"]["text"].lower())
    assert size["layout"]["annotations"][0]["text"] == "no runs selected: pick runs above"


@pytest.mark.slow
def test_runs_headline_after_pruning_and_best_format_size(app_env: RunStore) -> None:
    at = open_page("runs")
    at.selectbox(key="runs_detail").set_value(1).run()  # magnitude 2:4, one finetune epoch
    metrics = {metric.label: metric for metric in at.metric}
    document = json.loads((app_env.artifacts_dir(1) / "results.json").read_text())
    after = next(row for row in document["curves"] if row["kind"] == "prune")["val_accuracy"]
    assert metrics["val acc. right after pruning"].value == f"{after:.1%}"
    recovered = (document["summary"]["val_accuracy"] - after) * 100
    assert metrics["val acc. right after pruning"].delta == f"{recovered:+.1f} pp by finetuning"
    assert metrics["test accuracy (final)"].delta.endswith(" pp vs dense")
    best = document["summary"]["size_bytes_by_format"]["2:4"]["fp32"]
    assert metrics["size, best format"].value == f"{best / 1024:,.0f} KiB"
    assert metrics["size, best format"].delta.startswith("as 2:4 (fp32) · dense ")
    layer_table = at.dataframe[1].value
    assert "MACs per sample, before" in layer_table and "dense_macs" not in layer_table
    assert set(layer_table["shape after"]) <= {"256x64", "256x256", "128x256", "10x128"}


@pytest.mark.slow
def test_compare_groups_seeds_and_pins_the_random_baseline(app_env: RunStore) -> None:
    at = open_page("compare")
    model_runs = [r.id for r in app_env.list_runs(("done",))]
    assert at.multiselect(key="compare_runs").value == sorted(model_runs[:2])  # newest two
    at.multiselect(key="compare_runs").set_value([5]).run()  # magnitude 80% seed 0
    at.toggle(key="compare_baseline").set_value(True).run()
    assert not at.exception
    titles = [str(m.value) for m in at.markdown if str(m.value).startswith("#### ")]
    assert titles == [
        "#### \\#6 magnitude unstructured 80% fp32 · 2 seeds",
        "#### \\#10 random unstructured 80% fp32 · 2 seeds",
    ]
    metrics = at.dataframe[-1].value
    assert all(str(cell).endswith("(2)") for cell in metrics.loc["test accuracy"])
    assert metrics.loc["test accuracy vs dense"].iloc[0].split()[1] == "pp"
    overlay = charts_of(at)[2]
    assert [t["name"] for t in overlay["data"]] == [t.replace("\\", "")[5:] for t in titles]


@pytest.mark.slow
def test_delete_asks_first_and_says_what_it_removed(
    filled_store: RunStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = copy_runs(filled_store, [1, 2], tmp_path)
    monkeypatch.setenv("PRUNING_CORE_STORE", str(store.path))
    monkeypatch.setenv("PRUNING_CORE_AUTOSTART_WORKER", "0")
    at = open_page("runs")
    at.selectbox(key="runs_detail").set_value(2).run()
    at.button(key="delete").click().run()
    assert store.get(2) is not None  # nothing removed yet: it asks
    assert any("Delete 1 run(s): #2 taylor 2:4 fp32 s0?" in str(w.value) for w in at.warning)
    at.button(key="delete_confirm_details").click().run()
    assert store.get(2) is None and not store.artifacts_dir(2).exists()
    (done,) = [str(s.value) for s in at.success]
    assert done.startswith("Deleted 1 run(s) (#2 taylor 2:4 fp32 s0) and their ")


@pytest.mark.slow
def test_exported_layers_csv_is_the_cli_one(app_env: RunStore) -> None:
    at = open_page("export")
    at.selectbox(key="export_run").set_value(2).run()
    (button,) = [b for b in at.get("download_button") if b.key == "export_layers"]
    written = (app_env.artifacts_dir(2) / "layers.csv").read_text()
    assert "256x64" in written and "[256, 64]" not in written
    assert not at.exception


def test_first_start_offers_an_example_sweep(empty_store: RunStore) -> None:
    for page in ("compare", "sweeps", "speedups"):
        at = open_page(page)
        assert "Get started" in texts(at) and "No finished runs yet" in texts(at)
    at.button(key="example_speedups").click().run()
    runs = empty_store.list_runs()
    assert len(runs) == 9 and {r.recipe["criterion"] for r in runs} == {
        "magnitude", "taylor", "random",
    }  # fmt: skip
    assert {r.recipe["sparsity"] for r in runs} == {0.5, 0.7, 0.9}
    assert {r.recipe["model"] for r in runs} == {"digits_mlp"}
    assert "9 run(s) queued or running" in texts(at)


def test_queue_positions_eta_and_the_priority_lane(empty_store: RunStore) -> None:
    empty_store.register_worker("w", 1, "elsewhere")
    for seed in range(3):  # three finished runs of the same kind: the ETA's evidence
        empty_store.enqueue({"model": "digits_mlp", "seed": seed})
        empty_store.claim("w")
        empty_store.finish(seed + 1, "w", "done", summary={})
    sweep = empty_store.enqueue_many([{"model": "digits_mlp", "seed": s} for s in (7, 8)])
    job = empty_store.enqueue({"job": "sensitivity", "model": "digits_mlp"})
    assert empty_store.queued_ids() == [job, *sweep]  # profiles first: never behind a sweep
    at = open_page("runs")
    shown = texts(at)
    assert f"#{sweep[0]} " in shown and "#2 in the queue · done in at least" in shown
    assert "(from 3 similar finished runs)" in shown and "#3 in the queue" in shown


def test_sidebar_stops_the_worker(empty_store: RunStore) -> None:
    from pruning_core.runs.liveness import pid_alive, this_host

    process = subprocess.Popen(["sleep", "60"])
    try:
        empty_store.register_worker(f"{this_host()}:{process.pid}", process.pid, this_host())
        at = open_page("runs")
        at.button(key="stop_worker").click().run()
        deadline = time.time() + 10
        while pid_alive(process.pid) and time.time() < deadline:
            time.sleep(0.1)
        assert not pid_alive(process.pid)
    finally:
        process.kill()
        process.wait()


@pytest.mark.slow
def test_guardrails_warn_and_errors_name_the_control(empty_store: RunStore) -> None:
    at = configure(cfg_sparsity=97)
    warned = [str(w.value) for w in at.warning if "collapses" in str(w.value)]
    assert warned and warned[0].startswith("**target sparsity** (sparsity): 'net.3' would keep")
    assert not at.error and not at.button(key="queue_run").disabled  # a warning, not a block

    at = configure(cfg_structure="channel", cfg_sparsity=99)
    assert any("about 1 of 128 output channels" in str(w.value) for w in at.warning)

    at = configure(cfg_schedule="gradual", cfg_epochs=1, cfg_start=100000)
    (error,) = errors(at)
    assert error.startswith("**start step** (schedule.start_step): start step must lie in [0, ")
    warning = next(str(w.value) for w in at.warning if str(w.value).startswith("Fix the "))
    assert warning.startswith("Fix the 1 problem above")
