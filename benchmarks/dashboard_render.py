"""How long the server takes to render the Runs and Compare pages with 200 finished runs.

Fills a run store with real runs (digits_mlp, five criteria x sparsities x seeds, no
finetuning so the 200 runs take a minute or two), then times Streamlit's AppTest
re-running each page: the whole server-side script run (store query, tables, charts,
serialisation), not the browser's drawing. Then it starts a worker on a long run and
times the Runs page again while that run is in progress.

    .venv/bin/python benchmarks/dashboard_render.py [--runs 200] [--repeats 15] [--folder DIR]

Target: < 300 ms per page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
CRITERIA = ["magnitude", "random", "gradient", "taylor", "activation"]


def full_recipe(fields: dict[str, Any]) -> dict[str, Any]:
    """A validated recipe with every field, as the dashboard queues them."""
    from pruning_core.recipe import parse_recipe

    return parse_recipe(fields).model_dump(mode="json")


def fill(store: Any, wanted: int) -> float:
    """Queue and execute real runs until ``wanted`` are done; returns the seconds spent."""
    from pruning_core.runs.worker import Worker

    missing = wanted - store.counts()["done"]
    if missing <= 0:
        return 0.0
    sparsities = [round(0.1 * step, 1) for step in range(1, 10)]
    recipes = [
        full_recipe(
            {
                "model": "digits_mlp",
                "criterion": criterion,
                "sparsity": sparsity,
                "seed": seed,
                "finetune": {"epochs": 0},
                "calibration": {"samples": 128},
            }
        )
        for seed in range(100)
        for criterion in CRITERIA
        for sparsity in sparsities
    ][:missing]
    store.enqueue_many(recipes, label="benchmark", sweep="benchmark")
    started = time.perf_counter()
    Worker(store).run(once=True)
    return time.perf_counter() - started


def time_page(
    page: str, repeats: int, widget: str | None = None, choices: list[Any] | None = None
) -> dict[str, float]:
    """Median, p90 and max of ``repeats`` re-runs of one page, in milliseconds.

    Without ``choices`` every re-run is warm (figures cached). With them, each re-run
    first sets ``widget`` to the next choice: new runs to show, so charts are built cold.
    """
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=300)
    app.switch_page(f"app_pages/{page}.py").run()  # first render: imports, store, caches
    assert not app.exception, [error.value for error in app.exception]
    samples = []
    for index in range(repeats):
        if widget is not None and choices:
            element = next(
                e
                for kind in ("selectbox", "multiselect")
                for e in getattr(app, kind)
                if e.key == widget
            )
            element.set_value(choices[index % len(choices)])
        started = time.perf_counter()
        app.run()
        samples.append((time.perf_counter() - started) * 1000)
    assert not app.exception, [error.value for error in app.exception]
    ordered = sorted(samples)
    return {
        "median_ms": statistics.median(samples),
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))],
        "max_ms": ordered[-1],
        "repeats": repeats,
    }


def during_a_run(store: Any, repeats: int) -> dict[str, Any]:
    """Runs-page timings while a worker process executes a long run."""
    from pruning_core.runs.launcher import ensure_worker, stop_workers

    run_id = store.enqueue(
        full_recipe({"model": "digits_mlp", "finetune": {"epochs": 300, "batch_size": 16}})
    )
    ensure_worker(store)
    try:
        deadline = time.time() + 300
        while (record := store.get(run_id)).phase != "finetune" and time.time() < deadline:
            time.sleep(0.2)
        before = record.progress
        timing = time_page("runs", repeats)
        after = store.get(run_id)
        timing["run_progress"] = f"{after.phase} {before:.1%} -> {after.progress:.1%} while timing"
        return timing
    finally:
        store.request_cancel(run_id)
        time.sleep(1.0)
        stop_workers(store)


def main() -> None:
    """Fill the store, time the pages, print (and optionally save) the numbers."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--folder", type=Path, default=None, help="reuse this store folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dashboard_bench_"))
    os.environ["PRUNING_CORE_STORE"] = str(folder / "runs.sqlite")
    os.environ["PRUNING_CORE_AUTOSTART_WORKER"] = "0"

    import torch

    from pruning_core.runs.store import RunStore

    store = RunStore(folder / "runs.sqlite")
    fill_s = fill(store, args.runs)
    done = [run.id for run in store.list_runs(("done",))]
    results = {
        "kind": "measured",
        "what": "server-side render time of a page (one AppTest script run)",
        "device": f"cpu {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "finished_runs": len(done),
        "fill_seconds": fill_s,
        "runs_page_warm": time_page("runs", args.repeats),
        "runs_page_new_detail": time_page("runs", args.repeats, "runs_detail", done[1:]),
        "compare_2_runs_warm": time_page("compare", args.repeats),
        "compare_4_new_runs": time_page(
            "compare", args.repeats, "compare_runs", [done[i : i + 4] for i in range(4, 200, 4)]
        ),
    }
    results["runs_page_during_a_run"] = during_a_run(store, args.repeats)
    print(json.dumps(results, indent=2))
    for name in [key for key, value in results.items() if isinstance(value, dict)]:
        verdict = "ok" if results[name]["median_ms"] < 300 else "OVER TARGET"
        print(
            f"{name:<24} median {results[name]['median_ms']:7.1f} ms  p90 "
            f"{results[name]['p90_ms']:7.1f} ms  max {results[name]['max_ms']:7.1f} ms  ({verdict})"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
