"""Pure pieces behind issue 14: one bar per measured configuration, formats that do not
apply, channel runs' upstream removals, run facts, seed groups, queue ETAs, guardrail words."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dashboard import charts
from dashboard.charts import compare, display, facts, measured, queue, speed, tables
from dashboard.components import controls


def test_two_files_timing_one_configuration_are_one_bar_with_spread() -> None:
    rows = pd.DataFrame(
        {
            "run": ["cnn · channel · engine 50% · batch 256"] * 2 + ["cnn · dense"],
            "speedup": [2.53, 2.26, 1.0],
            "device": ["cpu: AMD EPYC"] * 3,
            "date": ["2026-11-25T16:02:59", "2026-11-25T16:05:16", "2026-11-25T16:00:00"],
            "median_ms": [1.0, 1.2, 2.0],
            "source": ["a.json", "b.json", "a.json"],
        }
    )
    bars = speed.configurations(rows)
    assert list(bars["run"]) == ["cnn · channel · engine 50% · batch 256", "cnn · dense"]
    first = bars.iloc[0]
    assert first["speedup"] == pytest.approx((2.53 + 2.26) / 2) and first["count"] == 2
    assert (first["low"], first["high"]) == (2.26, 2.53) and first["sources"] == "a.json, b.json"
    (trace,) = charts.measured_speedup_chart(rows).data
    assert list(trace.x) == pytest.approx([1.0, 2.395])  # never 2.53 + 2.26 end to end
    texts = [a.text for a in charts.measured_speedup_chart(rows).layout.annotations]
    assert "2.39x · cpu: AMD EPYC · 2026-11-25 · median of 2" in texts  # device, date on the bar
    assert list(trace.error_x.array) == pytest.approx([0.0, 0.135])


def test_measured_rows_keep_only_measured_numbers(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(
        json.dumps(
            [
                {
                    "model": "m",
                    "structure": "2:4",
                    "precision": "fp16",
                    "speedup": 1.3,
                    "device": "H100",
                    "date": "2026-11-25",
                    "measured": True,
                },
                {
                    "model": "m",
                    "speedup": 1.9,
                    "device": "H100",
                    "date": "x",
                    "kind": "theoretical",
                },
            ]
        )
    )
    (tmp_path / "b.csv").write_text(
        "model,speedup,device,date,kind\nm,1.1,cpu,2026-11-24,measured\n"
    )
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "c.csv").write_text(
        "model,speedup,device,date,kind\nm,1.1,cpu,2026-11-24,measured\n"
    )
    rows = measured.measured_rows(sorted(tmp_path.iterdir()))
    assert list(rows["speedup"]) == [1.3, 1.1]
    assert list(rows["source"]) == ["a.json", "b.csv"]  # c.csv repeats b.csv: dropped
    assert list(rows["run"]) == ["m · 2:4 · fp16", "m"]


def run_document(pruned_2of4: bool) -> dict:
    """A 2-layer run: net.1 skipped, net.3 pruned (2:4 holds it only when ``pruned_2of4``)."""
    sizes = [
        {"layer": layer, "format": fmt, "precision": "fp32", "total": total}
        for layer, fmt, total in [
            ("net.1", "dense", 400), ("net.1", "csr", 900), ("net.3", "dense", 1000),
            ("net.3", "csr", 800), ("net.3", "channel_removed", 1000),
        ] + ([("net.3", "2:4", 560)] if pruned_2of4 else [])
    ]  # fmt: skip
    return {
        "summary": {
            "metric": "accuracy",
            "precision": "fp32",
            "size_bytes": 1400,
            "size_bytes_by_format": {
                "dense": {"fp32": 1400},
                "csr": {"fp32": 1700},
                "2:4": {"fp32": 960 if pruned_2of4 else 1400},
                "channel_removed": {"fp32": 1400},
                "codebook": {"fp32": 1400},
            },
        },
        "layers": [{"name": "net.1", "pruned": False}, {"name": "net.3", "pruned": True}],
        "sizes": sizes,
        "curves": [
            {"kind": "dense", "val_accuracy": 0.97},
            {"kind": "prune", "val_accuracy": 0.15},
            {"kind": "finetune", "val_accuracy": 0.99},
        ],
    }


def test_run_facts_after_pruning_and_formats_that_apply() -> None:
    two_four = facts.document_facts(run_document(True))
    assert two_four["val_after_pruning"] == 0.15  # the prune point, not the final 0.99
    assert two_four["formats_applicable"] == ["dense", "2:4", "csr"]  # no codebook, no channels
    assert (two_four["best_format"], two_four["best_format_bytes"]) == ("2:4", 960)
    assert facts.size_headline({**two_four, "precision": "fp32"}) == (
        "1 KiB",
        "as 2:4 (fp32) · dense 1 KiB",
    )
    unstructured = facts.document_facts(run_document(False))
    assert "2:4" not in unstructured["formats_applicable"]
    assert facts.pp(-0.006) == "-0.6 pp" and facts.pp(None) == "n/a"


def test_sizes_of_formats_that_do_not_apply_are_na_never_dense() -> None:
    document = run_document(False)
    run = {
        "run": "#1",
        "size_bytes": 1400,
        "precision": "fp32",
        "size_bytes_by_format": document["summary"]["size_bytes_by_format"],
        "formats_applicable": facts.applicable_formats(document),
    }
    sizes = measured.size_rows(pd.DataFrame([run]), {"fp32": 4})
    assert dict(zip(sizes["format"], sizes["applies"], strict=True)) == {
        "dense": True, "csr": True, "2:4": False, "channel_removed": False, "codebook": False,
    }  # fmt: skip
    figure = charts.size_by_precision_chart(sizes)
    (bars,) = figure.data
    assert list(bars.y) == pytest.approx([1400 / 1024, 1700 / 1024, 0, 0, 0])
    notes = {a.x: a.text for a in figure.layout.annotations}  # one "n/a" per unused format
    assert notes == {"2:4": "n/a", "channel_removed": "n/a", "codebook": "n/a"}
    other = sizes.assign(run="#2", applies=True)  # 2:4 applies to another run: "n/a" on the bar
    (mine, theirs) = charts.size_by_precision_chart(pd.concat([sizes, other])).data
    assert list(mine.text) == ["", "", "n/a", "n/a", "n/a"] and not any(theirs.text)
    empty = charts.size_by_precision_chart(sizes.head(0), empty_message="no runs selected")
    assert empty.layout.annotations[0].text == "no runs selected"


def test_channel_runs_stack_upstream_removals_and_label_the_kept_layer() -> None:
    layers = pd.DataFrame(
        [
            {"name": "c1", "shape_original": [64, 32], "shape": [32, 32], "sparsity": 0.5,
             "pruned": True},
            {"name": "c2", "shape_original": [64, 64], "shape": [32, 32], "sparsity": 0.75,
             "pruned": True},
            {"name": "fc", "shape_original": [10, 64], "shape": [10, 32], "sparsity": 0.5,
             "pruned": False},
        ]
    ).assign(params_original=100, nonzeros=50, note="")  # fmt: skip
    own, upstream = charts.layer_sparsity_chart(layers, 0.5).data
    assert (own.name, upstream.name) == ("own channels removed", "inputs removed upstream")
    assert list(own.y) == pytest.approx([0.5, 0.5, 0.0])
    assert list(upstream.y) == pytest.approx([0.0, 0.25, 0.5])
    assert list(upstream.base) == list(own.y)  # stacked on the layer's own share
    assert list(upstream.text) == ["", "", "kept; inputs cut"]  # not "dense" while at 50%


def test_overlaid_runs_share_one_dense_label_per_layer() -> None:
    layers = pd.DataFrame(
        {"name": ["a", "b"], "sparsity": [0.0, 0.5], "pruned": [False, True],
         "params_original": [10, 10], "nonzeros": [10, 5], "note": ["skipped", ""]}
    )  # fmt: skip
    both = pd.concat([layers.assign(run=f"#{i}") for i in range(4)])
    figure = charts.layer_sparsity_chart(both, 0.5)
    assert all(list(trace.text) == ["", ""] for trace in figure.data)
    labels = [a.text for a in figure.layout.annotations if a.text == "dense"]
    assert labels == ["dense"]  # one label for layer a, not four overlapping ones


def test_sweep_chart_draws_the_metric_right_after_pruning() -> None:
    runs = pd.DataFrame(
        {"criterion": ["magnitude", "random"], "target_sparsity": [0.5, 0.5], "seed": [0, 0],
         "test_accuracy": [0.99, 0.99], "val_after_pruning": [0.97, 0.15]}
    )  # fmt: skip
    figure = charts.accuracy_vs_sparsity_chart(runs, after="val_after_pruning")
    names = [trace.name for trace in figure.data]
    assert names[-2:] == [
        "magnitude · right after pruning (val)",
        "random (baseline) · right after pruning (val)",
    ]
    assert list(figure.data[-1].y) == [0.15] and figure.data[-1].line.dash == "dot"


def record(run_id: int, seed: int, accuracy: float, criterion: str = "magnitude") -> dict:
    recipe = {"model": "m", "criterion": criterion, "seed": seed, "precision": "int8",
              "compression": {"kind": "weight_sharing", "clusters": 16}}  # fmt: skip
    return {
        "id": run_id, "state": "done", "recipe": recipe, "structure_label": "2:4",
        "sparsity_fixed": True, "created": 0.0, "started": 0.0, "finished": 1.0, "sweep": None,
        "summary": {"test_accuracy": accuracy, "dense_test_accuracy": 0.9, "val_accuracy": 0.9},
        "facts": {"val_after_pruning": 0.5},
    }  # fmt: skip


def test_runs_differing_only_by_seed_are_one_group_with_mean_and_std() -> None:
    runs = tables.runs_table(
        [record(3, 1, 0.8), record(2, 0, 0.9), record(1, 0, 0.5, criterion="random")]
    )
    assert runs["run"].iloc[0] == "#3 magnitude 2:4 int8 ws16 s1"  # precision + quantization
    grouped = compare.groups(runs)
    assert list(grouped["label"]) == ["#3 magnitude 2:4 int8 ws16 · 2 seeds", runs["run"].iloc[2]]
    assert grouped["ids"].iloc[0] == [3, 2]
    table = compare.metrics_table(runs, grouped)
    assert table.iloc[0, 0] == "85.00% ± 7.07 pp (2)"
    assert table.loc["recovered by finetuning (val)"].iloc[1] == "+40.0 pp"
    baseline = compare.random_baseline(runs, runs.iloc[1])
    assert baseline is not None and baseline["id"] == 1


def test_queue_positions_and_eta_from_similar_finished_runs() -> None:
    def run(run_id: int, state: str, model: str = "m", **extra: object) -> dict:
        return {"id": run_id, "state": state, "recipe": {"model": model}, "progress": 0.5,
                "started": 100.0, **extra}  # fmt: skip

    finished = [run(1, "done", finished=130.0), run(2, "done", finished=150.0)]  # 30 s, 50 s
    active = [run(3, "running"), run(4, "queued"), run(5, "queued", model="other")]
    view = queue.queue_view(active, finished, [4, 5], workers=1, now=120.0).set_index("id")
    assert view.loc[3, "eta_s"] == 20.0  # median 40 s, 20 s gone
    assert (view.loc[4, "position"], view.loc[4, "eta_s"], view.loc[4, "similar"]) == (1, 60, 2)
    assert view.loc[5, "position"] == 2 and pd.isna(view.loc[5, "eta_s"])  # nothing similar
    assert queue.duration_text(60) == "60 s" and queue.duration_text(None) == "?"


def test_tables_write_shapes_as_the_cli_does_and_name_columns_for_people() -> None:
    rows = [{"name": "a", "shape": [64, 32, 3, 3], "shape_original": [64, 32, 3, 3],
             "dense_macs": 10, "reconstruction_error": None}]  # fmt: skip
    assert display.layer_table(rows)["shape"].tolist() == ["64x32x3x3"]
    shown = display.layer_view(rows)
    assert "MACs per sample, before" in shown.data.columns and "dense_macs" not in shown.data
    assert "-" in shown.to_html()  # missing values as "-", never "None"


def test_messages_name_the_control_on_screen() -> None:
    assert controls.heading("schedule.start_step") == "start step (schedule.start_step)"
    assert controls.control("structure.skip_incompatible") == "Skip layers whose shape does not fit"
    assert controls.control("layer_sparsity.net.3") == "Per-layer sparsities"
    assert controls.heading("artifacts") == "artifacts"


def test_workers_claim_sensitivity_profiles_before_a_waiting_sweep(tmp_path: Path) -> None:
    from pruning_core.runs.store import RunStore

    store = RunStore(tmp_path / "runs.sqlite")
    sweep = store.enqueue_many([{"model": "m", "seed": seed} for seed in range(3)])
    job = store.enqueue({"job": "sensitivity", "model": "m"})
    store.register_worker("w", 1, "elsewhere")
    claimed = [store.claim("w"), store.claim("w")]
    assert [record.id for record in claimed if record] == [job, sweep[0]]
    assert store.queued_ids() == sweep[1:]
