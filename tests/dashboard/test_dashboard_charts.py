"""Pure chart builders and table shaping, without Streamlit or the engine."""

from __future__ import annotations

import pandas as pd
import pytest

from dashboard import charts
from dashboard.charts import compare, measured, tables

WIDTHS = {"fp32": 4, "fp16": 2, "bf16": 2}  # bytes per element, as the engine gives them

LAYERS = pd.DataFrame(
    [
        {
            "name": "net.1",
            "params_original": 100,
            "nonzeros": 100,
            "sparsity": 0.0,
            "pruned": False,
            "note": "skipped (skip_layers)",
            "shape": [10, 10],
        },
        {
            "name": "net.3",
            "params_original": 400,
            "nonzeros": 200,
            "sparsity": 0.5,
            "pruned": True,
            "note": "",
            "shape": [20, 20],
        },
        {
            "name": "net.5",
            "params_original": 40,
            "nonzeros": 10,
            "sparsity": 0.75,
            "pruned": True,
            "note": "",
            "shape": [4, 10],
        },
    ]
)


def sweep_rows() -> pd.DataFrame:
    rows = []
    for criterion, base in (("magnitude", 0.9), ("random", 0.5)):
        for sparsity in (0.5, 0.8):
            for seed, wiggle in ((0, -0.02), (1, 0.02)):
                rows.append(
                    {
                        "criterion": criterion,
                        "target_sparsity": sparsity,
                        "seed": seed,
                        "test_accuracy": base - sparsity / 10 + wiggle,
                    }
                )
    return pd.DataFrame(rows)


def test_layer_chart_keeps_model_order_and_hover_counts() -> None:
    figure = charts.layer_sparsity_chart(LAYERS.iloc[::-1], target=0.5)
    (bars,) = figure.data
    assert list(figure.layout.xaxis.categoryarray) == ["net.5", "net.3", "net.1"]  # order given
    assert list(bars.y) == [0.75, 0.5, 0.0]
    assert [tuple(row[:3]) for row in bars.customdata] == [
        (40, 10, 30),
        (400, 200, 200),
        (100, 100, 0),
    ]
    assert "dense params" in bars.hovertemplate and "kept (nonzero)" in bars.hovertemplate
    assert list(bars.text) == ["", "", "dense"]  # skipped layers are labelled, not just empty
    (line,) = figure.layout.shapes
    assert line.y0 == line.y1 == 0.5
    assert figure.layout.annotations[0].text == "target 50%"


def test_layer_chart_overlays_runs_with_one_shared_target() -> None:
    both = pd.concat(
        [LAYERS.assign(run="#1"), LAYERS.assign(run="#2", sparsity=LAYERS["sparsity"] / 2)]
    )
    figure = charts.layer_sparsity_chart(both, target={"#1": 0.5, "#2": 0.5})
    assert [trace.name for trace in figure.data] == ["#1", "#2"]
    assert figure.layout.barmode == "group" and len(figure.layout.shapes) == 1
    different = charts.layer_sparsity_chart(both, target={"#1": 0.5, "#2": 0.25})
    assert sorted(shape.y0 for shape in different.layout.shapes) == [0.25, 0.5]


def test_empty_inputs_give_a_message_not_an_error() -> None:
    for figure in (
        charts.layer_sparsity_chart(LAYERS.iloc[0:0]),
        charts.accuracy_vs_sparsity_chart(pd.DataFrame()),
        charts.curves_chart(
            pd.DataFrame(
                {"val_accuracy": [None], "step": [0], "kind": ["dense"], "sparsity": [0.0]}
            )
        ),
        charts.size_by_precision_chart(
            measured.size_rows(pd.DataFrame(columns=["size_bytes"]), WIDTHS)
        ),
        charts.speedup_chart(pd.DataFrame(columns=["run", "theoretical_speedup"])),
        charts.pareto_chart(pd.DataFrame()),
    ):
        assert len(figure.data) == 0 and figure.layout.annotations


def test_aggregate_seeds_mean_and_std() -> None:
    table = charts.aggregate_seeds(sweep_rows(), "test_accuracy")
    first = table.iloc[0]
    assert (first["criterion"], first["target_sparsity"], first["count"]) == ("magnitude", 0.5, 2)
    assert first["mean"] == pytest.approx(0.85)
    assert first["std"] == pytest.approx(pd.Series([0.83, 0.87]).std())


def test_accuracy_vs_sparsity_has_bands_and_a_dashed_random_baseline() -> None:
    figure = charts.accuracy_vs_sparsity_chart(sweep_rows(), dense=0.95)
    names = [trace.name for trace in figure.data]
    assert names == ["magnitude ± std", "magnitude", "random (baseline) ± std", "random (baseline)"]
    band, line = figure.data[0], figure.data[1]
    assert band.fill == "toself" and len(band.x) == 4  # upper and lower edges
    assert list(line.y) == pytest.approx([0.85, 0.82])
    assert figure.data[3].line.dash == "dash"
    assert figure.layout.shapes[0].y0 == 0.95  # dense reference


def test_single_seed_draws_no_band() -> None:
    rows = sweep_rows()
    figure = charts.accuracy_vs_sparsity_chart(rows[rows["seed"] == 0])
    assert all(trace.fill != "toself" for trace in figure.data)


def test_curves_chart_marks_prune_steps_and_overlays_runs() -> None:
    curves = pd.DataFrame(
        [
            {"kind": "dense", "step": 0, "sparsity": 0.0, "val_accuracy": 0.97},
            {"kind": "prune", "step": 0, "round": 1, "sparsity": 0.5, "val_accuracy": 0.6},
            {
                "kind": "finetune",
                "step": 17,
                "round": 1,
                "epoch": 1,
                "sparsity": 0.5,
                "val_accuracy": 0.9,
            },
        ]
    )
    figure = charts.curves_chart(pd.concat([curves.assign(run="a"), curves.assign(run="b")]))
    accuracy = [trace for trace in figure.data if trace.yaxis != "y2"]
    assert [trace.name for trace in accuracy] == ["a", "b"]
    assert list(accuracy[0].marker.symbol) == ["circle-open", "triangle-down", "circle"]
    assert len(figure.data) == 4  # accuracy + sparsity per run


def test_speedup_chart_keeps_theoretical_and_measured_apart() -> None:
    theoretical = pd.DataFrame({"run": ["#1"], "theoretical_speedup": [1.7]})
    measured = pd.DataFrame(
        {"run": ["mlp 2:4 fp16"], "speedup": [1.2], "device": ["H100"], "date": ["2026-11-25"]}
    )
    figure = charts.speedup_chart(theoretical, measured)
    assert [trace.name for trace in figure.data] == [
        "theoretical (dense / effective MACs)",
        "measured (timed)",
    ]
    assert "not timed" in figure.data[0].hovertemplate
    assert list(figure.data[1].customdata[0]) == ["H100", "2026-11-25"]
    assert len(charts.speedup_chart(theoretical).data) == 1
    only_measured = charts.speedup_chart(None, measured, title="Measured speedup")
    assert [trace.name for trace in only_measured.data] == ["measured (timed)"]
    (bars,) = charts.measured_speedup_chart(measured).data
    assert bars.orientation == "h" and list(bars.y) == ["mlp 2:4 fp16"] and list(bars.x) == [1.2]
    texts = [a.text for a in charts.measured_speedup_chart(measured).layout.annotations]
    assert texts == ["1.20x · H100 · 2026-11-25"]  # device and date on the bar


def test_pareto_front() -> None:
    points = pd.DataFrame({"size": [1, 2, 3, 4, 2], "acc": [0.5, 0.7, 0.6, 0.9, 0.4]})
    front = charts.pareto_front(points, "size", "acc")
    assert list(front["size"]) == [1, 2, 4] and list(front["acc"]) == [0.5, 0.7, 0.9]
    figure = charts.pareto_chart(
        points.assign(run=list("abcde"), criterion="magnitude"), x="size", y="acc"
    )
    assert figure.data[-1].name == "Pareto front" and list(figure.data[-1].x) == [1, 2, 4]


def test_size_by_precision() -> None:
    runs = pd.DataFrame({"run": ["#1"], "size_bytes": [4000], "precision": ["fp32"]})
    sizes = measured.size_rows(runs, WIDTHS)
    assert dict(zip(sizes["precision"], sizes["size_bytes"], strict=True)) == {
        "fp32": 4000,
        "fp16": 2000,
        "bf16": 2000,
    }
    figure = charts.size_by_precision_chart(sizes)  # dense only: bars by precision, one per run
    (bars,) = figure.data
    assert bars.name == "#1" and list(bars.x) == ["fp32", "fp16", "bf16"]
    assert list(bars.y) == pytest.approx([4000 / 1024, 2000 / 1024, 2000 / 1024])


def test_size_rows_prefer_exact_bytes_per_format() -> None:
    runs = pd.DataFrame(
        {
            "run": ["#1", "#2"],
            "size_bytes": [4000, 4000],
            "precision": ["fp32", "int8"],
            "size_bytes_by_format": [
                {"dense": {"fp32": 4000, "fp16": 2000}, "csr": {"fp32": 3000, "fp16": 1800}},
                None,
            ],
        }
    )
    sizes = measured.size_rows(runs, WIDTHS)
    exact = sizes[sizes["run"] == "#1"]
    assert len(exact) == 4 and set(exact["format"]) == {"dense", "csr"}
    assert exact["kind"].str.startswith("exact bytes").all()
    figure = charts.size_by_precision_chart(exact[exact["precision"] == "fp16"])
    assert list(figure.data[0].x) == ["dense", "csr"] and "(fp16)" in figure.layout.title.text
    fallback = sizes[sizes["run"] == "#2"]  # unknown element width: only its own precision
    assert list(fallback["precision"]) == ["int8"] and list(fallback["size_bytes"]) == [4000]


def record(
    run_id: int,
    state: str = "done",
    label: str = "unstructured",
    fixed: bool = False,
    **recipe: object,
) -> dict[str, object]:
    """A run record as the services pass it (structure label and whether it fixes sparsity)."""
    summary = {"test_accuracy": 0.9, "dense_test_accuracy": 0.95, "target_sparsity": 0.5}
    return {
        "structure_label": label,
        "sparsity_fixed": fixed,
        "id": run_id,
        "state": state,
        "recipe": {"criterion": "magnitude", "seed": 0, **recipe},
        "summary": summary if state == "done" else None,
        "created": 0.0,
        "started": 1.0,
        "finished": 3.5,
        "sweep": None,
    }


def test_runs_table_and_labels() -> None:
    table = tables.runs_table(
        [record(2, label="2:4", fixed=True, sparsity=0.5), record(1, "failed", sparsity=0.8)]
    )
    assert list(table["run"]) == [
        "#2 magnitude 2:4 fp32 s0",
        "#1 magnitude unstructured 80% fp32 s0",
    ]
    assert table.loc[0, "accuracy_delta"] == pytest.approx(-0.05)
    assert table.loc[0, "duration_s"] == 2.5
    assert pd.isna(table.loc[1, "test_accuracy"])
    assert tables.runs_table([]).empty


def test_recipe_diff_flags_only_differences() -> None:
    diff = tables.recipe_diff(
        {
            "a": {"criterion": "magnitude", "finetune": {"epochs": 1}, "skip": ["x"]},
            "b": {"criterion": "taylor", "finetune": {"epochs": 1}, "skip": ["x"]},
        }
    )
    assert list(diff.index[diff["differs"]]) == ["criterion"]
    assert diff.loc["finetune.epochs", "a"] == "1" and diff.loc["skip", "b"] == "x"


def test_metrics_table_formats() -> None:
    runs = tables.runs_table([record(1), record(2)])
    table = compare.metrics_table(runs)
    assert table.loc["test accuracy"].tolist() == ["90.00%", "90.00%"]
    assert table.loc["test accuracy vs dense"].tolist() == ["-5.0 pp", "-5.0 pp"]
    assert table.loc["run time (s)"].tolist() == ["-", "-"]


def test_sweep_table_is_criteria_by_sparsity() -> None:
    table = tables.sweep_table(charts.aggregate_seeds(sweep_rows(), "test_accuracy"))
    assert list(table.index) == ["magnitude", "random"] and list(table.columns) == ["50%", "80%"]
    assert table.loc["magnitude", "50%"] == "85.0% ± 2.8 (2)"
