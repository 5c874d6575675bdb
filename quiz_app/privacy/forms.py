"""The account-deletion confirmation (shape only; the service checks it)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, Length


class DeleteAccountForm(FlaskForm):
    password = PasswordField(
        "请输入密码确认", validators=[DataRequired("请填写密码"), Length(max=128)]
    )
    understood = BooleanField(
        "我明白：注销后无法恢复，证书将失效",
        validators=[DataRequired("请先勾选确认")],
    )
