"""The per-layer reconstruction error chart (pure builder, no Streamlit)."""

from __future__ import annotations

import pandas as pd

from dashboard.charts import reconstruction_error_chart


def test_bars_only_for_layers_with_an_error_in_model_order() -> None:
    layers = pd.DataFrame(
        {
            "name": ["net.1", "net.3", "net.5", "net.7"],
            "reconstruction_error": [None, 0.02, 0.05, None],
        }
    )
    figure = reconstruction_error_chart(layers)
    (bars,) = figure.data
    assert list(bars.x) == ["net.3", "net.5"]
    assert list(bars.y) == [0.02, 0.05]


def test_says_why_when_there_is_nothing_to_draw() -> None:
    figure = reconstruction_error_chart(
        pd.DataFrame({"name": ["a"], "reconstruction_error": [None]})
    )
    assert not figure.data
    assert "no reconstruction error" in figure.layout.annotations[0].text
