"""How long each dashboard page takes to settle with 200 finished runs, against an empty store.

Fills a run store with real runs (digits_mlp, five criteria x sparsities x seeds, no
finetuning, so the 200 runs take a few minutes), then times Streamlit's AppTest running
every page: the whole server-side script run (store query, results files, tables, charts,
serialisation), not the browser's drawing. Each page is timed three ways, in this order,
with the 200-run store and then with an empty store in the same process:

* ``first``: the page's first script run in this process for this store (its caches
  cold; the engine's imports, torch and the sample models, are paid once before any
  timing and reported apart as ``engine_import_s``: a server pays them once, on the
  first page that needs a model),
* ``warm``: the median of ``--repeats`` reruns (what a user waits for on every click),
* ``new_session``: a new AppTest session opening the page (another browser tab).

The target is every page under 1 s to settle with 200 runs on an idle machine; the
ratio to the empty store, measured in the same run, shows what the runs themselves cost
on a machine that is not idle. The result file records the machine and its load average.

    .venv/bin/python benchmarks/dashboard_render.py [--runs 200] [--repeats 7] \\
        [--folder DIR] [--out benchmarks/results/dashboard_render.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
CRITERIA = ["magnitude", "random", "gradient", "taylor", "activation"]
PAGES = ["configure", "runs", "compare", "sweeps", "sensitivity", "speedups", "export"]
TARGET_S = 1.0


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


def _run(app: Any) -> float:
    started = time.perf_counter()
    app.run()
    elapsed = time.perf_counter() - started
    assert not app.exception, [error.value for error in app.exception]
    return elapsed


_COMPONENTS: list[Any] = []  # one server's component registry, shared by every session


def _session(page: str) -> Any:
    """A new AppTest session on ``page``, sharing the process's component registry.

    A real server scans installed packages for components once at start; AppTest does it
    for every new instance (about 0.4 s), which no user ever waits for.
    """
    from streamlit.testing.v1 import AppTest

    app = AppTest.from_file(APP, default_timeout=600)
    if _COMPONENTS:
        app._bidi_component_manager = _COMPONENTS[0]
    app.switch_page(f"app_pages/{page}.py")
    return app


def time_page(page: str, repeats: int) -> dict[str, float]:
    """Seconds of the page's first run, median/max of warm reruns, and a new session's run."""
    app = _session(page)
    first = _run(app)
    if not _COMPONENTS and getattr(app, "_bidi_component_manager", None) is not None:
        _COMPONENTS.append(app._bidi_component_manager)
    warm = [_run(app) for _ in range(repeats)]
    other = _session(page)
    return {
        "first_s": first,
        "warm_median_s": statistics.median(warm),
        "warm_max_s": max(warm),
        "new_session_s": _run(other),
    }


def time_store(path: Path, repeats: int, pages: list[str] = PAGES) -> dict[str, Any]:
    """Every page against the store at ``path``, in a fresh process (as a new server).

    Returns the pages' timings and ``engine_import_s`` (paid before any page is timed).
    """
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--time-store",
            str(path),
            "--repeats",
            str(repeats),
            "--pages",
            ",".join(pages),
        ],  # fmt: skip
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PRUNING_CORE_STORE": str(path)},
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _time_here(repeats: int, pages: list[str]) -> dict[str, Any]:
    """This process's part of :func:`time_store`: import the engine, then time each page."""
    import pruning_core

    started = time.perf_counter()  # paid once per server process, whatever the store holds
    pruning_core.MODELS.names()  # torch, torchvision and the sample models' plugin
    timings: dict[str, Any] = {"engine_import_s": time.perf_counter() - started}
    return timings | {page: time_page(page, repeats) for page in pages}


def during_a_run(store: Any, repeats: int) -> dict[str, Any]:
    """The Runs page while a worker process executes a long run (then that run is removed)."""
    import shutil

    from pruning_core.runs.launcher import ensure_worker, stop_workers

    recipe = {"model": "digits_mlp", "finetune": {"epochs": 300, "batch_size": 16}}
    run_id = store.enqueue(full_recipe(recipe), label="benchmark: during a run")
    ensure_worker(store)
    try:
        deadline = time.time() + 300
        while (record := store.get(run_id)).phase != "finetune" and time.time() < deadline:
            time.sleep(0.2)
        before = record.progress
        timing = time_store(store.path, repeats, ["runs"])["runs"]
        after = store.get(run_id)
        timing["run_progress"] = f"{after.phase} {before:.1%} -> {after.progress:.1%} while timing"
        return dict(timing)
    finally:
        store.request_cancel(run_id)
        time.sleep(2.0)
        stop_workers(store)
        store.delete([run_id])
        shutil.rmtree(store.artifacts_dir(run_id), ignore_errors=True)


def summarize(full: dict[str, dict[str, float]], empty: dict[str, dict[str, float]]) -> list[str]:
    """One line per page: seconds with the runs, with the empty store, and their ratio."""
    lines = []
    for page in PAGES:
        line = f"{page:<12}"
        for key in ("first_s", "warm_median_s", "new_session_s"):
            ratio = full[page][key] / max(empty[page][key], 1e-9)
            line += f"  {key[:-2]} {full[page][key]:6.2f} s (empty {empty[page][key]:5.2f}, x{ratio:4.1f})"
        lines.append(line)
    return lines


def main() -> None:
    """Fill the store, time every page against it and an empty store, print and save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--folder", type=Path, default=None, help="reuse this store folder")
    parser.add_argument("--out", type=Path, default=None, help="also write the numbers as JSON")
    parser.add_argument("--time-store", type=Path, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pages", default=",".join(PAGES), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_store is not None:  # the child process of time_store
        os.environ["PRUNING_CORE_AUTOSTART_WORKER"] = "0"
        print(json.dumps(_time_here(args.repeats, args.pages.split(","))))
        return
    folder = args.folder or Path(tempfile.mkdtemp(prefix="dashboard_bench_"))
    os.environ["PRUNING_CORE_AUTOSTART_WORKER"] = "0"
    os.environ.setdefault("PRUNING_CORE_GPU_RESULTS", str(folder / "no_gpu_results"))

    import pruning_core
    from pruning_core.runs.store import RunStore

    store = RunStore(folder / "runs.sqlite")
    fill_s = fill(store, args.runs)
    empty = RunStore(folder / "empty" / "runs.sqlite")
    load_before = os.getloadavg()
    without = time_store(empty.path, args.repeats)
    with_runs = time_store(store.path, args.repeats)
    during = during_a_run(store, args.repeats)
    engine_import_s = {"empty_store": without.pop("engine_import_s"),
                       "with_runs": with_runs.pop("engine_import_s")}  # fmt: skip
    slowest = max(
        max(v["first_s"], v["warm_median_s"], v["new_session_s"]) for v in with_runs.values()
    )
    results = {
        "kind": "measured",
        "what": "server-side time for a dashboard page to settle (AppTest script run), "
        f"{store.counts()['done']} finished runs vs an empty store, each in a fresh process",
        "machine": pruning_core.machine_metadata(),
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "finished_runs": store.counts()["done"],
        "fill_seconds": fill_s,
        "engine_import_s": engine_import_s,
        "repeats": args.repeats,
        "target_s": TARGET_S,
        "pages_with_runs": with_runs,
        "pages_empty_store": without,
        "runs_page_during_a_run": during,
        "ratio_warm": {
            p: with_runs[p]["warm_median_s"] / without[p]["warm_median_s"] for p in PAGES
        },  # fmt: skip
        "idle": load_before[0] < 0.5 * (os.cpu_count() or 1),
        "note": "not an idle machine: other work shared the cores while measuring (load "
        "average above); the ratios to the empty store, measured in the same run, carry "
        "the runs' own cost"
        if load_before[0] >= 0.5 * (os.cpu_count() or 1)
        else "idle machine",
        "slowest_page_s": slowest,
        "under_target": slowest < TARGET_S,
    }
    for line in summarize(with_runs, without):
        print(line)
    print(f"runs page during a run: {json.dumps(during)}")
    print(f"load average {load_before} -> {results['load_average_after']}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
