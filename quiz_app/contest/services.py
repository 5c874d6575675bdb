"""The contest's public use cases, one import away for views, API, CLI and tests.

The rules live in modules by use case: `contests` (current contest, create,
edit under the freezing rules), `drawing` (the draw), `attempts` (start,
finish, expiry), `answers` (the save hot path), `queries` (reads), `regrade`
(re-scoring after a key correction) and `errors`.
"""

from __future__ import annotations

from ..caches import cache
from .answers import (
    Layout,
    Principal,
    SavedAnswer,
    attempt_layout,
    save_answer,
    to_display,
    to_original,
)
from .attempts import (
    expire_if_due,
    get_attempt,
    lock_attempt,
    start_attempt,
    submit_attempt,
    sweep_expired,
)
from .contests import (
    FROZEN_RULES,
    LIVE_FIELDS,
    MULTIPLE_SCORING,
    contest_by_id,
    contest_started,
    create_contest,
    current_contest,
    update_contest,
)
from .drawing import (
    LETTERS,
    PoolItem,
    bank_shortage,
    draw_questions,
    question_pool,
    shortages,
)
from .errors import (
    AttemptClosed,
    AttemptStillOpen,
    BankTooSmall,
    ContestError,
    ContestNotOpen,
    DailyLimitReached,
    InvalidChoice,
    InvalidRules,
    NotFound,
    NotLoggedIn,
    RuleFrozen,
    StaleAnswer,
)
from .queries import (
    ItemRow,
    QuestionText,
    attempt_items,
    attempts_left_today,
    attempts_started_on,
    best_attempt,
    item_rows,
    open_attempt,
    question_texts,
    user_attempts,
)


def clear_pool_cache() -> None:
    """Forget this process's cached contests and pool (after bulk loads)."""
    cache.invalidate_content()


__all__ = [
    "LETTERS",
    "AttemptClosed",
    "AttemptStillOpen",
    "BankTooSmall",
    "ContestError",
    "ContestNotOpen",
    "DailyLimitReached",
    "FROZEN_RULES",
    "LIVE_FIELDS",
    "MULTIPLE_SCORING",
    "InvalidChoice",
    "InvalidRules",
    "ItemRow",
    "Layout",
    "NotFound",
    "NotLoggedIn",
    "PoolItem",
    "Principal",
    "QuestionText",
    "RuleFrozen",
    "SavedAnswer",
    "StaleAnswer",
    "attempt_items",
    "attempt_layout",
    "attempts_left_today",
    "attempts_started_on",
    "bank_shortage",
    "best_attempt",
    "clear_pool_cache",
    "contest_by_id",
    "contest_started",
    "create_contest",
    "current_contest",
    "draw_questions",
    "expire_if_due",
    "get_attempt",
    "item_rows",
    "lock_attempt",
    "open_attempt",
    "question_pool",
    "question_texts",
    "save_answer",
    "shortages",
    "start_attempt",
    "submit_attempt",
    "sweep_expired",
    "to_display",
    "to_original",
    "update_contest",
    "user_attempts",
]
