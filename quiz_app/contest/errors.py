"""What the contest services raise when a rule refuses a request.

Each error carries the HTTP status, a stable code and a Chinese message, so
the pages and the API map it without knowing the rule.
"""

from __future__ import annotations


class ContestError(Exception):
    """A rule refused the request; nothing was changed."""

    status = 409
    code = "conflict"
    message = "操作未能完成"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message


class ContestNotOpen(ContestError):
    code, message = "contest_not_open", "竞赛当前不在开放时间内"


class DailyLimitReached(ContestError):
    code, message = "daily_limit", "今天的答题次数已用完，请明天再来"


class AttemptClosed(ContestError):
    """The attempt is finished or past its deadline; nothing was saved."""

    code, message = "attempt_closed", "本次答题已结束或已超时，答案未保存"


class StaleAnswer(ContestError):
    code, message = "stale_answer", "该题已在其他页面修改过，请刷新后再作答"


class InvalidChoice(ContestError):
    status, code, message = 422, "invalid_choice", "所选选项无效"


class NotFound(ContestError):
    status, code, message = 404, "not_found", "未找到该答题记录"


class NotLoggedIn(ContestError):
    status, code, message = 401, "not_logged_in", "请先登录"


class BankTooSmall(ContestError):
    code, message = "bank_too_small", "题库中的题目不足以按规则组卷，请联系组织者"


class RuleFrozen(ContestError):
    """A scoring rule was to change after the first attempt started."""

    code, message = "rule_frozen", "竞赛已有人开始答题，计分与排名规则不能再修改"

    def __init__(self, fields: list[str]) -> None:
        super().__init__(f"{self.message}：{'、'.join(fields)}")
        self.fields = {f: "已有人开始答题，此项不能再修改" for f in fields}


class InvalidRules(ContestError, ValueError):
    """The rules are malformed or the bank cannot satisfy them."""

    status, code, message = 422, "invalid", "竞赛规则无效"

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("；".join(fields.values()))
        self.fields = fields


class AttemptStillOpen(ContestError):
    code, message = "attempt_open", "该答题尚未结束，交卷后才能取消成绩"
