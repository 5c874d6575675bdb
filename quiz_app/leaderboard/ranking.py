"""The ranking order as one exact number, and the masks public boards use.

Order: higher score, then shorter duration, then earlier finish. The composite
key is a mixed-radix number

    key = score * D * F + (D - 1 - duration_ms) * F + (F - 1 - finish_bucket)

with D = time limit in ms + 1 and F = the number of finish buckets in the
contest window. The finish bucket is the finish offset from the contest start
in units of the smallest power of ten milliseconds that keeps the largest key
below 2**53, so Redis (IEEE doubles) stores every key exactly. The same key is
stored on the attempt row, so SQL and Redis sort by the very same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

EXACT_LIMIT = 2**53
#: a finish may arrive a little after the window closes (submit grace)
WINDOW_SLACK_MS = 60_000
#: members are zero-padded complements of user ids, so that ZREVRANGE (which
#: orders full ties by member descending) puts the lower user id first, the
#: same tie rule as SQL's ORDER BY key DESC, user_id ASC
MEMBER_BASE = 10**12 - 1
ANONYMOUS = "匿名参赛者"


@dataclass(frozen=True)
class KeyCodec:
    max_score: int
    max_duration_ms: int
    window_start: datetime
    window_ms: int
    unit_ms: int

    @property
    def d(self) -> int:
        return self.max_duration_ms + 1

    @property
    def f(self) -> int:
        return self.window_ms // self.unit_ms + 1

    @property
    def largest(self) -> int:
        return (self.max_score + 1) * self.d * self.f - 1

    def encode(self, score: int, duration_ms: int, finished_at: datetime) -> int:
        if not 0 <= score <= self.max_score:
            raise ValueError(f"score {score} outside 0..{self.max_score}")
        duration = min(max(duration_ms, 0), self.max_duration_ms)
        offset_ms = int((finished_at - self.window_start).total_seconds() * 1000)
        bucket = min(max(offset_ms, 0), self.window_ms) // self.unit_ms
        return (
            score * self.d * self.f
            + (self.d - 1 - duration) * self.f
            + (self.f - 1 - bucket)
        )

    def decode(self, key: int) -> tuple[int, int]:
        """(score, duration_ms) of a key."""
        score, rest = divmod(int(key), self.d * self.f)
        return score, self.d - 1 - rest // self.f


def make_codec(
    max_score: int, time_limit_s: int, starts_at: datetime, ends_at: datetime
) -> KeyCodec:
    """The codec of a contest; raises ValueError if no exact encoding exists."""
    window_ms = int((ends_at - starts_at).total_seconds() * 1000) + WINDOW_SLACK_MS
    unit = 1
    while unit <= 10**9:
        codec = KeyCodec(max_score, time_limit_s * 1000, starts_at, window_ms, unit)
        if codec.largest < EXACT_LIMIT:
            return codec
        unit *= 10
    raise ValueError("contest too long or too large for an exact ranking key")


def member_id(user_id: int) -> str:
    return f"{MEMBER_BASE - user_id:012d}"


def user_id_of(member: str) -> int:
    return MEMBER_BASE - int(member)


def mask_name(name: str) -> str:
    """张三明 -> 张*明, 张三 -> 张*, 欧阳小明 -> 欧**明."""
    name = name.strip()
    if len(name) <= 1:
        return (name or "*") + "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def public_name(name: str, consent: bool) -> str:
    return mask_name(name) if consent else ANONYMOUS


def mask_phone(phone: str) -> str:
    """13812345678 -> 138****5678."""
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]
