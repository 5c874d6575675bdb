"""Organizer forms of the bank (shape only; the import's row rules decide)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from .fileformat import MAX_CELL, OPTION_COLUMNS

TYPE_CHOICES = [("single", "单选题"), ("multiple", "多选题"), ("judge", "判断题")]
DIFFICULTY_CHOICES = [("1", "1（易）"), ("2", "2（中）"), ("3", "3（难）")]


def _text(label: str, area: bool = False, **kw):
    cls = TextAreaField if area else StringField
    return cls(label, validators=[Length(max=MAX_CELL)], **kw)


class QuestionForm(FlaskForm):
    """One question: content fields (a new revision) and in-place fields."""

    ext_id = StringField("题目编号", validators=[Length(max=64)])
    category = SelectField("分类", validate_choice=False)
    type = SelectField("题型", validate_choice=False)
    difficulty = SelectField("难度", validate_choice=False)
    stem = _text("题干", area=True)
    option_a = _text("选项 A")
    option_b = _text("选项 B")
    option_c = _text("选项 C")
    option_d = _text("选项 D")
    option_e = _text("选项 E")
    option_f = _text("选项 F")
    answer = StringField(
        "答案",
        validators=[Length(max=8)],
        description="单选如 B，多选如 ACD，判断填 正确 或 错误",
    )
    explanation = _text("解析", area=True)
    source = _text("出处")
    group = StringField(
        "互斥分组（可空）",
        validators=[Optional(), Length(max=64)],
        description="同组的题不会出现在同一份试卷中",
    )

    def set_choices(self, categories: list[tuple[str, str]]) -> None:
        """Choices are set after construction (tuples given to the field's
        constructor are deprecated in WTForms 3.3)."""
        self.category.choices = categories
        self.type.choices = TYPE_CHOICES
        self.difficulty.choices = DIFFICULTY_CHOICES

    def option_fields(self):
        return [getattr(self, col) for col in OPTION_COLUMNS]

    def values(self) -> dict:
        """The API-shaped values the edit services take."""
        return {
            "id": (self.ext_id.data or "").strip(),
            "category": self.category.data or "",
            "type": self.type.data or "",
            "difficulty": self.difficulty.data or "",
            "stem": self.stem.data or "",
            "options": [f.data or "" for f in self.option_fields()],
            "answer": self.answer.data or "",
            "explanation": self.explanation.data or "",
            "source": self.source.data or "",
            "group": (self.group.data or "").strip(),
        }

    def fill(self, values: dict) -> None:
        """Set the fields from a question's values (GET of the edit page)."""
        self.ext_id.data = values["id"]
        self.category.data = values["category"]
        self.type.data = values["type"]
        self.difficulty.data = str(values["difficulty"])
        self.stem.data = values["stem"]
        opts = list(values["options"]) + [""] * 6
        for f, text in zip(self.option_fields(), opts, strict=False):
            f.data = text
        self.answer.data = values["answer"]
        self.explanation.data = values["explanation"]
        self.source.data = values["source"]
        self.group.data = values["group"] or ""

    def show_errors(self, fields: dict[str, str]) -> None:
        """Put a service's per-field messages next to the fields."""
        for name, message in fields.items():
            if name == "id":
                name = "ext_id"
            elif name == "options":
                name = "option_a"
            field = getattr(self, name, self.stem)
            # The row rules name file columns; the page names its labels.
            for col, label in self.COLUMN_LABELS.items():
                message = message.replace(f"“{col}”", f"“{label}”")
            field.errors = [message]

    COLUMN_LABELS = {
        "id": "题目编号",
        "category": "分类",
        "type": "题型",
        "difficulty": "难度",
        "stem": "题干",
        "answer": "答案",
        "explanation": "解析",
        "source": "出处",
        "group": "互斥分组",
        **{f"option_{c}": f"选项 {c.upper()}" for c in "abcdef"},
    }


class ActiveForm(FlaskForm):
    active = HiddenField()


class RegradeForm(FlaskForm):
    contest_id = HiddenField()


class CategoryForm(FlaskForm):
    code = StringField("代码", validators=[Length(max=32)])
    name = StringField("名称", validators=[Length(max=64)])
    description = TextAreaField("说明", validators=[Length(max=2000)])

    def show_errors(self, fields: dict[str, str]) -> None:
        for name, message in fields.items():
            getattr(self, name, self.name).errors = [message]
