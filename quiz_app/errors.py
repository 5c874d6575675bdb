"""Error responses: the JSON error body of the API and the Chinese error pages."""

from __future__ import annotations

import logging
import secrets

from flask import Flask, Response, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from .extensions import db

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "请求有误",
    401: "请先登录",
    403: "没有权限访问",
    404: "页面不存在",
    405: "不支持该请求方法",
    409: "请求与当前状态冲突",
    413: "上传的文件太大",
    422: "提交的数据无效",
    429: "操作太频繁，请稍后再试",
    500: "服务器出错了",
    503: "服务暂时不可用，请稍后再试",
}


def api_error(status: int, code: str, message: str) -> Response:
    """`{"error": {"code", "message"}}` with the given status (docs/api.md)."""
    resp = jsonify({"error": {"code": code, "message": message}})
    resp.status_code = status
    return resp


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        if _wants_json():
            return api_error(400, "csrf_failed", "安全校验失败，请刷新页面后重试")
        return render_template(
            "error.html", code=400, message="页面已过期或安全校验失败，请返回刷新后重试"
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = exc.code or 500
        message = HTTP_MESSAGES.get(code, "请求未能完成")
        if _wants_json():
            slug = (exc.name or "error").lower().replace(" ", "_")
            resp = api_error(code, slug, message)
        else:
            resp = app.make_response(
                (render_template("error.html", code=code, message=message), code)
            )
        if isinstance(exc, RateLimitExceeded):
            # The limit's whole window: an upper bound that needs no Redis call
            # (per-request X-RateLimit headers are off; see config).
            resp.headers["Retry-After"] = str(exc.limit.limit.get_expiry())
        elif retry_after := dict(exc.get_headers()).get("Retry-After"):
            resp.headers["Retry-After"] = retry_after
        return resp

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        error_id = secrets.token_hex(4)
        log.exception(
            "unhandled error %s on %s %s", error_id, request.method, request.path
        )
        db.session.rollback()
        if isinstance(exc, (OperationalError, InterfaceError)):
            code, message = 503, HTTP_MESSAGES[503]
        else:
            code, message = 500, HTTP_MESSAGES[500]
        message = f"{message}（错误编号 {error_id}）"
        if _wants_json():
            return api_error(
                code, "server_error" if code == 500 else "unavailable", message
            )
        return render_template("error.html", code=code, message=message), code
