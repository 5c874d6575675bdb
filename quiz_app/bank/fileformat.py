"""The bank file format (docs/bank-format.md): reading CSV/XLSX into checked rows."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field

from ..exports import FORMULA_STARTS, unneutralise

HEADER = (
    "id",
    "category",
    "type",
    "difficulty",
    "stem",
    "option_a",
    "option_b",
    "option_c",
    "option_d",
    "option_e",
    "option_f",
    "answer",
    "explanation",
    "source",
    "group",
)
#: files without the optional trailing `group` column are read too
REQUIRED_HEADER = HEADER[:-1]
OPTION_COLUMNS = HEADER[5:11]
LETTERS = "ABCDEF"
REQUIRED = (
    "id",
    "category",
    "type",
    "difficulty",
    "stem",
    "answer",
    "explanation",
    "source",
)
MAX_ROWS = 20_000
MAX_CELL = 2_000
# XLSX guards, checked on the zip directory before anything is inflated.
XLSX_MAX_ENTRIES = 200
XLSX_MAX_UNCOMPRESSED = 50 * 1024 * 1024
#: Columns read from a sheet; cells further right are not looked at.
XLSX_MAX_COLUMNS = len(HEADER) + 6
#: Cells (<c> elements, empty ones too) a sheet may hold, per row and in all.
XLSX_MAX_CELLS_PER_ROW = 1_000
XLSX_MAX_CELLS = (MAX_ROWS + 1) * len(HEADER) * 2


@dataclass(frozen=True)
class BankRow:
    """One checked question row; `answer` as original letters (judge A/B)."""

    line: int
    ext_id: str
    category: str
    type: str
    difficulty: int
    stem: str
    options: list[str]
    answer: str
    explanation: str
    source: str
    #: exclusion group (ASCII label) or None
    group: str | None = None


@dataclass
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"第{self.line}行：{self.message}"


@dataclass
class BankFileError(Exception):
    """The file was rejected as a whole; `errors` lists every bad row."""

    errors: list[RowError] = field(default_factory=list)
    filename: str = ""

    def __str__(self) -> str:
        head = f"{self.filename}：" if self.filename else ""
        return head + "；".join(str(e) for e in self.errors[:20])


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BankFileError([RowError(1, "文件不是 UTF-8 编码，请另存为 UTF-8 的 CSV")])


def read_csv_table(data: bytes) -> list[list[str]]:
    """Rows of a UTF-8 CSV (a BOM is allowed); NUL bytes are rejected."""
    text = _decode(data)
    if "\x00" in text:
        raise BankFileError([RowError(1, "文件含有空字符（NUL），不是有效的文本 CSV")])
    rows: list[list[str]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        for row in reader:
            rows.append(row)
    except csv.Error as exc:
        # e.g. a cell beyond csv.field_size_limit(): the row it sits in is
        # the next record; the whole file is refused.
        line = len(rows) + 1
        if "field larger than field limit" in str(exc):
            message = f"单元格内容过长（每格最多 {MAX_CELL} 字）"
        else:
            message = "CSV 格式有误，无法解析这一行"
        raise BankFileError([RowError(line, message)])
    return rows


def _check_sheet_cells(zf: zipfile.ZipFile, name: str) -> None:
    """Count a sheet's cells while streaming its XML (elements are dropped as
    they go). openpyxl builds a whole row in memory before yielding it, so a
    few KB of repeated empty <c/> cells would otherwise become gigabytes."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import iterparse

    total = in_row = line = 0
    try:
        with zf.open(name) as src:
            for event, elem in iterparse(src, events=("start", "end")):
                tag = elem.tag.rpartition("}")[2]
                if event == "start":
                    if tag == "row":
                        r = elem.get("r", "")
                        line = int(r) if r.isascii() and r.isdigit() else line + 1
                        in_row = 0
                    continue
                if tag == "c":
                    total += 1
                    in_row += 1
                    if in_row > XLSX_MAX_CELLS_PER_ROW:
                        raise BankFileError(
                            [RowError(line, "这一行的单元格过多，已拒绝整个文件")]
                        )
                    if total > XLSX_MAX_CELLS:
                        too_many = "xlsx 文件的单元格过多，已拒绝"
                        raise BankFileError([RowError(1, too_many)])
                elif tag == "row":
                    elem.clear()
    except (ParseError, DefusedXmlException):
        raise BankFileError([RowError(1, "无法读取 xlsx 文件，请检查文件是否损坏")])


def read_xlsx_table(data: bytes) -> list[list[str]]:
    """Rows of the first sheet of an .xlsx, after zip-bomb and type checks."""
    if not data.startswith(b"PK\x03\x04"):
        raise BankFileError([RowError(1, "不是有效的 xlsx 文件")])
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            if len(infos) > XLSX_MAX_ENTRIES:
                raise BankFileError([RowError(1, "xlsx 文件内部条目过多，已拒绝")])
            if sum(i.file_size for i in infos) > XLSX_MAX_UNCOMPRESSED:
                raise BankFileError([RowError(1, "xlsx 文件解压后过大，已拒绝")])
            for info in infos:
                if info.filename.startswith("xl/worksheets/"):
                    _check_sheet_cells(zf, info.filename)
    except zipfile.BadZipFile:
        raise BankFileError([RowError(1, "不是有效的 xlsx 文件")])
    import openpyxl  # defusedxml, when installed, guards openpyxl's XML parsing

    try:
        wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for corrupt files
        raise BankFileError([RowError(1, "无法读取 xlsx 文件，请检查文件是否损坏")])
    try:
        sheet = wb.worksheets[0]
        # Read-only mode pads every row to the sheet's declared <dimension>,
        # which the file itself states: a forged A1:XFD1048576 would turn a
        # few KB into 16,384 cells per row. Ignore it and read only the
        # columns the format has, plus a few to notice a shifted row.
        sheet.reset_dimensions()
        rows = []
        for values in sheet.iter_rows(max_col=XLSX_MAX_COLUMNS, values_only=True):
            rows.append(["" if v is None else str(v) for v in values])
            if len(rows) > MAX_ROWS + 1:
                break
        return rows
    finally:
        wb.close()


# A leading minus that starts a number ("-273.15℃", "-5") is ordinary text in
# a science bank; any other start that a spreadsheet would run as a formula is
# refused. Exports neutralise every one of them, minus included, with a
# leading ' that the import removes again (quiz_app/exports.py), so an
# exported bank re-imports unchanged, and an organizer who really means a text
# like "=" writes it as "'=".
_NEGATIVE_NUMBER = re.compile(r"-\.?\d")


def _cell_problems(value: str) -> str | None:
    if len(value) > MAX_CELL:
        return f"内容超过 {MAX_CELL} 字"
    if value.startswith(FORMULA_STARTS) and not _NEGATIVE_NUMBER.match(value):
        return (
            "内容不能以 = + - @ 或制表符开头（可能是公式）；"
            "如确需以这些字符开头，请在前面加英文单引号 '"
        )
    return None


def check_table(table: list[list[str]], categories: set[str]) -> list[BankRow]:
    """Check every row; returns rows or raises BankFileError listing all errors."""
    if not table:
        raise BankFileError([RowError(1, "文件是空的")])
    header = [h.strip() for h in table[0]]
    while header and header[-1] == "":
        header.pop()
    if tuple(header) not in (HEADER, REQUIRED_HEADER):
        raise BankFileError(
            [RowError(1, "表头应为：" + ",".join(HEADER) + "（最后的 group 列可省略）")]
        )
    width = len(header)
    if len(table) - 1 > MAX_ROWS:
        raise BankFileError([RowError(1, f"一次最多导入 {MAX_ROWS} 行")])
    rows: list[BankRow] = []
    errors: list[RowError] = []
    for line, raw in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in raw):
            continue  # blank line
        extra = raw[width:]
        if any(c.strip() for c in extra):
            errors.append(RowError(line, f"列数过多（应为 {width} 列）"))
            continue
        if width == len(HEADER) and len(raw) == width - 1:
            raw = [*raw, ""]  # the optional group cell left off (XLSX drops it)
        if len(raw) < width:
            errors.append(RowError(line, f"列数不足（应为 {width} 列）"))
            continue
        cells = dict(zip(HEADER, (c.strip() for c in raw), strict=False))
        cells.setdefault("group", "")
        row, problem = _check_row(line, cells, categories)
        if problem:
            errors.append(RowError(line, problem))
        else:
            rows.append(row)
    if errors:
        raise BankFileError(errors)
    return rows


def _check_row(
    line: int, c: dict[str, str], categories: set[str]
) -> tuple[BankRow | None, str | None]:
    for col in REQUIRED:
        if not c[col]:
            return None, f"“{col}” 不能为空"
    for col in HEADER:
        problem = _cell_problems(c[col])
        if problem:
            return None, f"“{col}” {problem}"
    c = {col: unneutralise(value) for col, value in c.items()}
    ext_id = c["id"]
    if not (
        ext_id.isascii()
        and len(ext_id) <= 64
        and ext_id.replace("-", "").replace("_", "").isalnum()
    ):
        return None, "id 只能由字母、数字、- 和 _ 组成（最多 64 个字符）"
    group = c["group"]
    if group and not (
        group.isascii()
        and len(group) <= 64
        and group.replace("-", "").replace("_", "").isalnum()
    ):
        return None, "group 只能由字母、数字、- 和 _ 组成（最多 64 个字符）"
    if c["category"] not in categories:
        return None, f"分类 “{c['category']}” 不存在"
    qtype = c["type"]
    if qtype not in ("single", "multiple", "judge"):
        return None, "题型必须是 single、multiple 或 judge"
    if c["difficulty"] not in ("1", "2", "3"):
        return None, "难度必须是 1、2 或 3"
    opts = [c[col] for col in OPTION_COLUMNS]
    answer = c["answer"]
    if qtype == "judge":
        if any(opts):
            return None, "判断题的选项列必须为空"
        if answer not in ("正确", "错误"):
            return None, "判断题答案必须是 “正确” 或 “错误”"
        options, letters = ["正确", "错误"], "A" if answer == "正确" else "B"
    else:
        count = sum(1 for o in opts if o)
        if count < 2 or any(not o for o in opts[:count]):
            return None, "选项至少要有 A 和 B，并且按顺序填写、中间不能空缺"
        options = opts[:count]
        valid = LETTERS[:count]
        letters = answer.upper()
        if not letters or any(ch not in valid for ch in letters):
            return None, f"答案 “{answer}” 不是已有的选项（{valid}）"
        if list(letters) != sorted(set(letters)):
            return None, "答案字母必须按顺序且不重复，如 ACD"
        if qtype == "single" and len(letters) != 1:
            return None, "单选题答案只能是一个字母"
        if qtype == "multiple" and len(letters) < 2:
            return None, "多选题答案至少两个字母"
        if len(set(options)) != len(options):
            return None, "选项内容有重复"
    return BankRow(
        line=line,
        ext_id=ext_id,
        category=c["category"],
        type=qtype,
        difficulty=int(c["difficulty"]),
        stem=c["stem"],
        options=options,
        answer=letters,
        explanation=c["explanation"],
        source=c["source"],
        group=group or None,
    ), None


def read_table(data: bytes, filename: str) -> list[list[str]]:
    """Dispatch on the file's name (never used as a path) and magic bytes."""
    if filename.lower().endswith(".xlsx"):
        return read_xlsx_table(data)
    if data.startswith(b"PK\x03\x04"):
        raise BankFileError([RowError(1, "文件内容是 xlsx，请使用 .xlsx 扩展名")])
    return read_csv_table(data)
