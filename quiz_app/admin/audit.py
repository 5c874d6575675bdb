"""Reading the audit log: filters (actor, action, local date range), newest
first, with a Chinese label per action. Organizers and admins read it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select

from ..auth.services import PHONE_RE, normalize_phone
from ..clock import day_bounds
from ..extensions import db
from ..models import AuditEvent, User
from ..params import MAX_DB_INT, parse_int
from .accounts import ROLE_NAMES

#: every action the application writes, with the label the log page shows
ACTION_LABELS = {
    "login": "登录",
    "password_change": "修改密码",
    "reset_code_sent": "发送重置验证码",
    "password_reset": "用验证码重置密码",
    "staff_password_reset": "工作人员重置参赛者密码",
    "account_create": "新建账号",
    "account_disable": "停用账号",
    "account_enable": "启用账号",
    "account_role": "更改账号角色",
    "account_scope": "更改管辖范围",
    "account_password_reset": "管理员重置密码",
    "bank_create": "新建题目",
    "bank_edit": "编辑题目",
    "bank_retire": "停用题目",
    "bank_restore": "恢复题目",
    "bank_import_preview": "预览导入",
    "bank_import": "导入题库",
    "bank_export": "导出题库",
    "category_add": "新建分类",
    "category_edit": "编辑分类",
    "regrade": "重新评分",
    "contest_create": "新建竞赛",
    "contest_edit": "编辑竞赛",
    "disqualify": "取消成绩",
    "stats_export": "导出参赛统计",
    "region_population": "修改区县人口",
    "ranking_consent": "更改排行榜公开同意",
    "account_delete": "注销账号",
    "privacy_purge": "清除过期个人信息",
    "stats_identity_view": "查看参赛者身份信息",
    "stats_denied": "越权查看其他区县",
}
OUTCOME_LABELS = {
    "ok": "成功",
    "denied": "被拒绝",
    "rejected": "被退回",
    "given": "同意",
    "withdrawn": "撤回",
}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


def outcome_label(outcome: str) -> str:
    head, _, rest = outcome.partition(":")
    label = OUTCOME_LABELS.get(head, head)
    return f"{label}（{rest}）" if rest else label


@dataclass(frozen=True)
class AuditFilter:
    actor_id: int | None = None
    #: a phone that matched no account: nothing can match
    actor_unknown: bool = False
    action: str | None = None
    since: date | None = None
    until: date | None = None
    tz: str = "Asia/Shanghai"


def _date(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw else None


def parse_filter(args, tz: str) -> tuple[AuditFilter, dict[str, str]]:
    """Query arguments as a filter, and problems by argument (Chinese).
    `actor` is an account id or an 11-digit phone; `since` / `until` are
    calendar days (YYYY-MM-DD, both included) in the contest time zone."""
    problems: dict[str, str] = {}
    actor_id, unknown = None, False
    raw_actor = (args.get("actor") or "").strip()
    if raw_actor:
        phone = normalize_phone(raw_actor)
        if PHONE_RE.fullmatch(phone):
            actor_id = db.session.scalar(select(User.id).where(User.phone == phone))
            unknown = actor_id is None
        else:
            actor_id = parse_int(raw_actor, lo=1, hi=MAX_DB_INT)
            if actor_id is None:
                problems["actor"] = "操作人请填写账号编号或 11 位手机号"
    action = (args.get("action") or "").strip() or None
    if action is not None and action not in ACTION_LABELS:
        problems["action"] = "未知的操作类型"
    days = {}
    for key in ("since", "until"):
        try:
            days[key] = _date((args.get(key) or "").strip() or None)
        except ValueError:
            problems[key] = "日期格式应为 YYYY-MM-DD"
    since, until = days.get("since"), days.get("until")
    if since and until and since > until:
        problems["until"] = "结束日期不能早于开始日期"
    return AuditFilter(actor_id, unknown, action, since, until, tz), problems


@dataclass
class EventPage:
    items: list[tuple[AuditEvent, User | None]]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max((self.total + self.per_page - 1) // self.per_page, 1)


def search(f: AuditFilter, *, page: int = 1, per_page: int = 50) -> EventPage:
    """Events matching `f`, newest first, each with its actor (or None)."""
    conds = []
    if f.actor_unknown:
        return EventPage([], 0, page, per_page)
    if f.actor_id is not None:
        conds.append(AuditEvent.actor_id == f.actor_id)
    if f.action:
        conds.append(AuditEvent.action == f.action)
    if f.since:
        conds.append(AuditEvent.at >= day_bounds(f.since, f.tz)[0])
    if f.until:
        conds.append(AuditEvent.at < day_bounds(f.until, f.tz)[1])
    total = db.session.scalar(select(func.count(AuditEvent.id)).where(*conds))
    rows = db.session.execute(
        select(AuditEvent, User)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(*conds)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).all()
    return EventPage([(e, u) for e, u in rows], total or 0, page, per_page)


def actor_text(user: User | None) -> str:
    if user is None:
        return "系统 / 未登录"
    return f"{user.name}（{ROLE_NAMES.get(user.role, user.role)}）"


def event_json(event: AuditEvent, user: User | None) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at,
        "action": event.action,
        "action_label": action_label(event.action),
        "outcome": event.outcome,
        "object": event.object,
        "ip": event.ip,
        "actor": (
            None
            if user is None
            else {"id": user.id, "name": user.name, "role": user.role}
        ),
    }
