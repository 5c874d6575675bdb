"""Registration and login forms (shape only; services check the rules)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class RegisterForm(FlaskForm):
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=20)])
    phone = StringField(
        "手机号", validators=[DataRequired("请填写手机号"), Length(max=20)]
    )
    region = SelectField(
        "所在区县", validators=[DataRequired("请选择所在区县")], validate_choice=False
    )
    password = PasswordField(
        "密码", validators=[DataRequired("请设置密码"), Length(max=128)]
    )
    password2 = PasswordField(
        "确认密码",
        validators=[
            DataRequired("请再输入一次密码"),
            EqualTo("password", "两次输入的密码不一致"),
        ],
    )
    public_ranking = BooleanField("同意在公开排行榜上显示我的姓氏（如 张*明）和区县")
    privacy = BooleanField(
        "我已阅读并同意个人信息收集说明",
        validators=[DataRequired("请先同意个人信息收集说明")],
    )


class LoginForm(FlaskForm):
    phone = StringField(
        "手机号", validators=[DataRequired("请填写手机号"), Length(max=20)]
    )
    password = PasswordField(
        "密码", validators=[DataRequired("请填写密码"), Length(max=128)]
    )


class ForgotForm(FlaskForm):
    phone = StringField(
        "手机号", validators=[DataRequired("请填写手机号"), Length(max=20)]
    )


class ResetForm(FlaskForm):
    phone = StringField(
        "手机号", validators=[DataRequired("请填写手机号"), Length(max=20)]
    )
    code = StringField(
        "短信验证码", validators=[DataRequired("请填写验证码"), Length(max=12)]
    )
    password = PasswordField(
        "新密码", validators=[DataRequired("请设置新密码"), Length(max=128)]
    )
    password2 = PasswordField(
        "确认新密码",
        validators=[
            DataRequired("请再输入一次新密码"),
            EqualTo("password", "两次输入的密码不一致"),
        ],
    )


class ChangePasswordForm(FlaskForm):
    #: not asked after a staff reset (the one-time password was just typed)
    current_password = PasswordField("当前密码", validators=[Length(max=128)])
    password = PasswordField(
        "新密码", validators=[DataRequired("请设置新密码"), Length(max=128)]
    )
    password2 = PasswordField(
        "确认新密码",
        validators=[
            DataRequired("请再输入一次新密码"),
            EqualTo("password", "两次输入的密码不一致"),
        ],
    )


class FindCitizenForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form; it changes nothing

    phone = StringField(
        "市民手机号", validators=[DataRequired("请填写手机号"), Length(max=20)]
    )
