"""The practice round object shared by the JSON API and the pages.

A question's key, explanation and source appear only in the feedback of an
answered item; an unanswered one carries its stem and options alone.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from ..contest.presenters import display_options
from ..contest.queries import question_texts
from ..models import PracticeRound
from .services import Feedback, PracticeRow, feedback_for, round_rows


def feedback_json(feedback: Feedback) -> dict[str, Any]:
    return asdict(feedback)


def round_view(
    practice: PracticeRound, *, left_today: int, rows: list[PracticeRow] | None = None
) -> dict[str, Any]:
    """The round object of the API (times as aware datetimes)."""
    rows = rows if rows is not None else round_rows(practice.id)
    texts = question_texts([r.revision_id for r in rows])
    questions = []
    for row in rows:
        text = texts[row.revision_id]
        answered = row.answered_at is not None
        questions.append(
            {
                "position": row.position,
                "type": text.type,
                "stem": text.stem,
                "options": display_options(row, text),
                "feedback": feedback_json(feedback_for(row)) if answered else None,
            }
        )
    answered = [r for r in rows if r.answered_at is not None]
    return {
        "id": practice.id,
        "practice": True,
        "started_at": practice.started_at,
        "size": len(rows),
        "answered": len(answered),
        "correct": sum(1 for r in answered if r.is_correct),
        "finished": len(answered) == len(rows),
        "left_today": left_today,
        "questions": questions,
    }
