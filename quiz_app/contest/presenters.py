"""Attempt and result views shared by the JSON API and the pages.

Before an attempt is finished nothing here carries a correct answer, an
explanation or a score: only stems, options in display order and own choices.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..models import Attempt, AttemptAnswer, Contest, Question
from .services import LETTERS, attempt_items, to_display


def remaining_s(attempt: Attempt, now: datetime) -> int:
    if attempt.finished_at is not None:
        return 0
    return max(int((attempt.deadline_at - now).total_seconds()), 0)


def display_options(answer: AttemptAnswer, question: Question) -> list[dict[str, str]]:
    return [
        {"key": LETTERS[i], "text": question.options[LETTERS.index(orig)]}
        for i, orig in enumerate(answer.option_order)
    ]


def attempt_view(
    attempt: Attempt,
    now: datetime,
    items: list[tuple[AttemptAnswer, Question]] | None = None,
) -> dict[str, Any]:
    """The attempt object of the API contract (times as aware datetimes)."""
    items = items if items is not None else attempt_items(attempt)
    questions, answers, versions = [], {}, {}
    for answer, question in items:
        questions.append(
            {
                "position": answer.position,
                "type": question.type,
                "stem": question.stem,
                "options": display_options(answer, question),
            }
        )
        chosen = to_display(answer.option_order, answer.choices)
        if chosen:
            answers[str(answer.position)] = chosen
        versions[str(answer.position)] = answer.version
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
        view["result"] = result_view(attempt, items)
    return view


def result_view(
    attempt: Attempt, items: list[tuple[AttemptAnswer, Question]] | None = None
) -> dict[str, Any]:
    """Score and full review; only for a finished attempt."""
    if attempt.finished_at is None:
        raise ValueError("result of an unfinished attempt")
    items = items if items is not None else attempt_items(attempt)
    contest: Contest = attempt.contest
    review = []
    for answer, question in items:
        review.append(
            {
                "position": answer.position,
                "type": question.type,
                "stem": question.stem,
                "options": display_options(answer, question),
                "choices": to_display(answer.option_order, answer.choices),
                "correct_choices": to_display(answer.option_order, question.answer),
                "is_correct": bool(answer.is_correct),
                "explanation": question.explanation,
                "source": question.source,
            }
        )
    return {
        "score": attempt.score,
        "max_score": contest.max_score,
        "correct": attempt.correct_count,
        "duration_ms": attempt.duration_ms,
        "finished_at": attempt.finished_at,
        "status": attempt.status,
        "review": review,
    }
