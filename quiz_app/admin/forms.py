"""Admin forms (shape only; the account and population services decide)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

ROLE_CHOICES = [
    ("organizer", "组织者（题库、竞赛）"),
    ("staff", "工作人员（区县统计）"),
]
SCOPE_CHOICES = [("region", "一个区县"), ("city", "全市范围")]


# Choices are set after construction (tuples given to a field's constructor
# are deprecated in WTForms 3.3): see set_choices.


def set_choices(form, regions: list[tuple[str, str]]) -> None:
    if hasattr(form, "scope"):
        form.scope.choices = SCOPE_CHOICES
    if isinstance(form, CreateAccountForm):
        form.role.choices = ROLE_CHOICES
    form.staff_region.choices = regions


class AccountSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form; it changes nothing

    q = StringField("姓名或手机号", validators=[Optional(), Length(max=32)])
    role = SelectField("角色", validate_choice=False)
    region = SelectField("区县", validate_choice=False)


class CreateAccountForm(FlaskForm):
    name = StringField("姓名", validators=[DataRequired("请填写姓名"), Length(max=20)])
    phone = StringField(
        "手机号（登录用）",
        validators=[DataRequired("请填写手机号"), Length(max=20)],
    )
    role = RadioField("角色", validators=[DataRequired("请选择角色")])
    #: no default: a staff account's scope is always chosen explicitly
    scope = RadioField("管辖范围（工作人员）", validate_choice=False)
    staff_region = SelectField("管辖区县", validate_choice=False)


class RoleForm(FlaskForm):
    role = SelectField("角色", validate_choice=False)
    scope = RadioField("管辖范围（工作人员）", validate_choice=False)
    staff_region = SelectField("管辖区县", validate_choice=False)


class ActionForm(FlaskForm):
    """Disable / enable / reset: a button with the CSRF token."""
