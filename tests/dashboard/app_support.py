"""Helpers of the AppTest page tests: open a page, read its charts, texts and errors."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")
FORM_WIDGETS = ("selectbox", "number_input", "slider", "toggle", "checkbox", "radio", "text_input")


def open_page(page: str) -> AppTest:
    """The app on ``app_pages/<page>.py``, run once, with no exception."""
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page(f"app_pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def configure(**widgets: object) -> AppTest:
    """The Configure page on digits_mlp with ``widgets`` (key -> value) set one by one."""
    at = open_page("configure")
    at.selectbox(key="cfg_model").set_value("digits_mlp").run()
    for key, value in widgets.items():
        element = next(e for kind in FORM_WIDGETS for e in getattr(at, kind) if e.key == key)
        element.set_value(value).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def charts_of(at: AppTest) -> list[dict[str, Any]]:
    """Every plotly figure on the page, as its JSON."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def unescape(markdown: str) -> str:
    """Markdown source as the reader sees it (the app escapes values it shows)."""
    return re.sub(r"\\(.)", r"\1", markdown)


def errors(at: AppTest) -> list[str]:
    """The error boxes on the page, as read (``**field**: message``)."""
    return [unescape(str(e.value)) for e in at.error]


def texts(at: AppTest) -> str:
    """Every markdown, caption and alert on the page, as read."""
    parts = [
        e.value
        for kind in ("markdown", "caption", "info", "error", "warning", "success")
        for e in getattr(at, kind)
    ]
    return unescape("\n".join(str(part) for part in parts))
