"""How values are shown: JSON datetimes with offset, and the template filters."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask.json.provider import DefaultJSONProvider

from .clock import iso


class ContestJSONProvider(DefaultJSONProvider):
    """Datetimes as ISO 8601 with the contest zone's offset."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return iso(o, current_app.config["QUIZ_TIMEZONE"])
        return super().default(o)

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("ensure_ascii", False)
        return super().dumps(obj, **kwargs)


def register_rendering(app: Flask) -> None:
    app.json = ContestJSONProvider(app)
    tz = ZoneInfo(app.config["QUIZ_TIMEZONE"])

    @app.template_filter("localtime")
    def localtime(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        return value.astimezone(tz).strftime(fmt) if value else ""

    @app.template_filter("duration")
    def duration(ms: int | None) -> str:
        if ms is None:
            return ""
        minutes, seconds = divmod(int(ms) // 1000, 60)
        return f"{minutes}分{seconds:02d}秒" if minutes else f"{seconds}秒"
