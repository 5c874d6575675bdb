"""The composite ranking key: exact below 2**53 and ordering like the rules say."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quiz_app.leaderboard.ranking import (
    EXACT_LIMIT,
    make_codec,
    mask_name,
    mask_phone,
    member_id,
    public_name,
    user_id_of,
)

START = datetime(2023, 9, 16, 16, 0, tzinfo=UTC)
END = START + timedelta(days=7)
CODEC = make_codec(100, 900, START, END)


def test_2023_contest_key_is_exact_at_its_extremes():
    assert CODEC.largest < EXACT_LIMIT
    top = CODEC.encode(100, 0, START)
    assert top == CODEC.largest
    assert float(top) == top  # a double holds it exactly
    assert CODEC.decode(top) == (100, 0)
    assert CODEC.encode(0, 900_000, END + timedelta(minutes=1)) == 0


def test_largest_contest_allowed_still_fits():
    # 1000 points, 3 hours per attempt, a 60-day window: coarser finish buckets.
    codec = make_codec(1000, 3 * 3600, START, START + timedelta(days=60))
    assert codec.largest < EXACT_LIMIT
    assert codec.decode(codec.encode(1000, 1, START)) == (1000, 1)


def test_impossible_contest_is_refused():
    with pytest.raises(ValueError):
        make_codec(10**9, 10**6, START, START + timedelta(days=3650))


results = st.tuples(
    st.integers(0, 20).map(lambda n: n * 5),
    st.integers(0, 900_000),
    st.integers(0, 7 * 24 * 3600 - 1),  # finish offset, whole seconds
)


@settings(max_examples=300, deadline=None)
@given(results, results)
def test_key_order_is_score_then_duration_then_finish(a, b):
    ka = CODEC.encode(a[0], a[1], START + timedelta(seconds=a[2]))
    kb = CODEC.encode(b[0], b[1], START + timedelta(seconds=b[2]))
    rule_a = (a[0], -a[1], -a[2])
    rule_b = (b[0], -b[1], -b[2])
    assert (ka > kb) == (rule_a > rule_b)
    assert (ka == kb) == (rule_a == rule_b)
    assert CODEC.decode(ka) == (a[0], a[1])


@given(st.integers(1, 10**9))
def test_member_ids_round_trip_and_sort_lower_id_first(uid):
    assert user_id_of(member_id(uid)) == uid
    assert member_id(uid) > member_id(uid + 1)  # ZREVRANGE shows lower id first


@pytest.mark.parametrize(
    "name, masked",
    [
        ("张三明", "张*明"),
        ("张三", "张*"),
        ("欧阳小明", "欧**明"),
        ("李", "李*"),
        ("阿依古丽·买买提", "阿******提"),
    ],
)
def test_mask_name(name, masked):
    assert mask_name(name) == masked


def test_no_consent_is_anonymous():
    assert public_name("张三明", False) == "匿名参赛者"


@given(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
def test_mask_phone_keeps_only_prefix_and_suffix(phone):
    masked = mask_phone(phone)
    assert masked == phone[:3] + "****" + phone[-4:]
    assert phone[3:7] not in masked[3:7] or phone[3:7] == "****"
