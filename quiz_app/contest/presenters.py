"""Attempt and result views shared by the JSON API and the pages.

Before an attempt is finished nothing here carries a correct answer, an
explanation or a score: only stems, options in display order and own choices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Attempt, Contest
from .services import (
    LETTERS,
    ItemRow,
    QuestionText,
    contest_by_id,
    item_rows,
    question_texts,
    to_display,
)


def remaining_s(attempt: Attempt, now: datetime) -> int:
    if attempt.finished_at is not None:
        return 0
    return max(int((attempt.deadline_at - now).total_seconds()), 0)


def display_options(row: ItemRow, text: QuestionText) -> list[dict[str, str]]:
    return [
        {"key": LETTERS[i], "text": text.options[LETTERS.index(orig)]}
        for i, orig in enumerate(row.option_order)
    ]


def attempt_view(
    attempt: Attempt, now: datetime, rows: list[ItemRow] | None = None
) -> dict[str, Any]:
    """The attempt object of the API contract (times as aware datetimes)."""
    rows = rows if rows is not None else (attempt.fresh_rows or item_rows(attempt.id))
    texts = question_texts([r.revision_id for r in rows])
    questions, answers, versions = [], {}, {}
    for row in rows:
        text = texts[row.revision_id]
        questions.append(
            {
                "position": row.position,
                "type": text.type,
                "stem": text.stem,
                "options": display_options(row, text),
            }
        )
        chosen = to_display(row.option_order, row.choices)
        if chosen:
            answers[str(row.position)] = chosen
        versions[str(row.position)] = row.version
    view = {
        "id": attempt.id,
        "status": attempt.status,
        "started_at": attempt.started_at,
        "deadline": attempt.deadline_at,
        "server_time": now,
        "remaining_s": remaining_s(attempt, now),
        "questions": questions,
        "answers": answers,
        "versions": versions,
        "result": None,
    }
    if attempt.finished_at is not None:
        view["result"] = result_view(attempt, rows)
    return view


def result_view(attempt: Attempt, rows: list[ItemRow] | None = None) -> dict[str, Any]:
    """Score and full review; only for a finished attempt."""
    if attempt.finished_at is None:
        raise ValueError("result of an unfinished attempt")
    if rows is None or any(r.is_correct is None for r in rows):
        fresh = attempt.fresh_rows
        rows = (
            fresh
            if fresh and fresh[0].is_correct is not None
            else item_rows(attempt.id)
        )
    texts = question_texts([r.revision_id for r in rows])
    review = []
    for row in rows:
        text = texts[row.revision_id]
        review.append(
            {
                "position": row.position,
                "type": text.type,
                "stem": text.stem,
                "options": display_options(row, text),
                "choices": to_display(row.option_order, row.choices),
                "correct_choices": to_display(row.option_order, row.key),
                "is_correct": bool(row.is_correct),
                "explanation": text.explanation,
                "source": text.source,
            }
        )
    return {
        "score": attempt.score,
        "max_score": contest_by_id(attempt.contest_id).max_score,
        "correct": attempt.correct_count,
        "duration_ms": attempt.duration_ms,
        "finished_at": attempt.finished_at,
        "status": attempt.status,
        "disqualified": disqualification_view(attempt),
        "review": review,
    }


def contest_admin_view(contest: Contest, now: datetime, frozen: bool) -> dict[str, Any]:
    """The organizer's contest object (DESIGN: organizer and admin API)."""
    return {
        "id": contest.id,
        "title": contest.title,
        "description": contest.description,
        "starts_at": contest.starts_at,
        "ends_at": contest.ends_at,
        "time_limit_s": contest.time_limit_s,
        "questions_per_attempt": contest.questions_per_attempt,
        "type_counts": dict(contest.type_counts),
        "category_quotas": dict(contest.category_quotas or {}),
        "points": contest.points_per_question,
        "attempts_per_day": contest.attempts_per_day,
        "multiple_scoring": contest.multiple_scoring,
        "certificate": {"excellent_min": contest.excellent_min},
        "status": contest.status(now),
        "frozen": frozen,
    }


def disqualification_view(attempt: Attempt) -> dict[str, Any] | None:
    if attempt.disqualified_at is None:
        return None
    return {"at": attempt.disqualified_at, "reason": attempt.disqualified_reason}
