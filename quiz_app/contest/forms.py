"""Organizer forms for contests (shape only; contests.py checks the rules).

Times are entered in the contest's zone (Asia/Shanghai) as local date and
time; the view converts them to aware datetimes.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from ..models import Category

TIME_FORMAT = "%Y-%m-%dT%H:%M"
#: the per-type count fields, in display order
TYPE_FIELDS = (
    ("single", "单选题数量"),
    ("multiple", "多选题数量"),
    ("judge", "判断题数量"),
)


def _count(label: str, required: bool = True):
    first = InputRequired("请填写数量") if required else Optional()
    return IntegerField(
        label, validators=[first, NumberRange(0, 200, "须为 0 到 200 的整数")]
    )


class ContestForm(FlaskForm):
    title = StringField(
        "标题", validators=[DataRequired("请填写标题"), Length(max=200)]
    )
    description = TextAreaField(
        "说明与规则（显示在首页）", validators=[Length(max=5000)]
    )
    starts_at = DateTimeLocalField(
        "开始时间（北京时间）",
        format=TIME_FORMAT,
        validators=[InputRequired("请填写开始时间")],
    )
    ends_at = DateTimeLocalField(
        "结束时间（北京时间）",
        format=TIME_FORMAT,
        validators=[InputRequired("请填写结束时间")],
    )
    single = _count("单选题数量")
    multiple = _count("多选题数量")
    judge = _count("判断题数量")
    points = IntegerField(
        "每题分值",
        validators=[
            InputRequired("请填写分值"),
            NumberRange(1, 1000, "须为 1 到 1000"),
        ],
    )
    time_limit_s = IntegerField(
        "答题时限（秒）",
        validators=[
            InputRequired("请填写时限"),
            NumberRange(60, 24 * 3600, "须为 60 到 86400 秒"),
        ],
    )
    attempts_per_day = IntegerField(
        "每人每天答题次数",
        validators=[InputRequired("请填写次数"), NumberRange(1, 100, "须为 1 到 100")],
    )
    multiple_scoring = SelectField(
        "多选题计分", choices=[SelectChoice("exact", "全部选对才得分")]
    )
    excellent_min = IntegerField(
        "优秀证书分数线",
        validators=[
            InputRequired("请填写分数线"),
            NumberRange(0, 10**6, "须为非负整数"),
        ],
    )

    #: quota field name -> category code (filled by contest_form)
    quota_fields: dict[str, str] = {}

    def quota_items(self):
        return [(getattr(self, name), code) for name, code in self.quota_fields.items()]


def contest_form(categories: list[Category], **kwargs) -> ContestForm:
    """A ContestForm with one quota field per category (`quota_<code>`)."""
    attrs = {}
    names = {}
    for c in categories:
        name = f"quota_{c.code}"
        attrs[name] = _count(f"{c.name}（{c.code}）至少", required=False)
        names[name] = c.code
    cls = type("ContestFormWithQuotas", (ContestForm,), attrs)
    cls.quota_fields = names
    return cls(**kwargs)


class DisqualifyForm(FlaskForm):
    reason = StringField(
        "原因（参赛者会看到）",
        validators=[DataRequired("请填写取消成绩的原因"), Length(max=200)],
    )


class AttemptSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search changes nothing

    q = StringField("答题编号或手机号", validators=[Length(max=20)])
