"""The certificate as a PNG: Pillow with the Noto SC fonts shipped on PyPI
(pylopdf-fonts-zh-cn, so a fresh machine needs no system fonts) and a segno
QR code of the verify URL."""

from __future__ import annotations

import io
from functools import lru_cache

import segno
from PIL import Image, ImageDraw, ImageFont
from pylopdf_fonts_zh_cn import sans_path, serif_path

from .services import EXCELLENT, ISSUER, CertificateView

#: A4 landscape proportions, wide enough to read on a phone when zoomed
WIDTH, HEIGHT = 1200, 848
PAPER = (255, 251, 240)
INK = (40, 32, 24)
RED = (155, 28, 28)
GOLD = (190, 150, 60)
MUTED = (110, 100, 90)
MARGIN = 110


@lru_cache(maxsize=16)
def font(kind: str, size: int) -> ImageFont.FreeTypeFont:
    """Loaded once per process and size (opening the 8 MB face costs ~10 ms)."""
    return ImageFont.truetype(serif_path() if kind == "serif" else sans_path(), size)


def qr_code(url: str) -> segno.QRCode:
    """The QR code for the verify URL (error level M survives a smudged print)."""
    return segno.make(url, error="m", micro=False)


def qr_image(url: str, target: int) -> Image.Image:
    """The QR code at the largest whole module scale that fits `target` px
    (scaling by a fraction would blur modules and hurt scanning)."""
    code = qr_code(url)
    modules = code.symbol_size(scale=1, border=2)[0]
    buf = io.BytesIO()
    code.save(buf, kind="png", scale=max(target // modules, 2), border=2)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def wrap(text: str, face: ImageFont.FreeTypeFont, width: int) -> list[str]:
    """Break Chinese text into lines no wider than `width` (any character may
    end a line, except that punctuation is kept with the character before it)."""
    lines, line = [], ""
    for ch in text:
        if line and face.getlength(line + ch) > width and ch not in "，。、：；）":
            lines.append(line)
            line = ch
        else:
            line += ch
    if line:
        lines.append(line)
    return lines


def body_text(view: CertificateView) -> str:
    score = f"最好成绩 {view.score} 分（满分 {view.max_score} 分）"
    if view.band == EXCELLENT:
        return f"在{view.contest_title}中，{score}，成绩优秀。特发此证，以资鼓励。"
    return f"参加{view.contest_title}，{score}。特发此证，以资纪念。"


def issue_date(view: CertificateView, tz) -> str:
    day = view.issued_at.astimezone(tz)
    return f"{day.year}年{day.month}月{day.day}日"


def render_png(view: CertificateView, verify_url: str, tz) -> bytes:
    """The certificate image with name, region, score, band, date, issuer,
    code and a QR code of `verify_url` (absolute)."""
    img = Image.new("RGB", (WIDTH, HEIGHT), PAPER)
    draw = ImageDraw.Draw(img)
    draw.rectangle((24, 24, WIDTH - 25, HEIGHT - 25), outline=RED, width=10)
    draw.rectangle((48, 48, WIDTH - 49, HEIGHT - 49), outline=GOLD, width=3)
    center = WIDTH // 2

    draw.text((center, 140), view.title, font=font("serif", 84), fill=RED, anchor="mm")
    draw.text(
        (center, 225),
        view.contest_title,
        font=font("sans", 30),
        fill=MUTED,
        anchor="mm",
    )
    draw.text(
        (MARGIN, 300),
        f"{view.name}（{view.region_name}）：",
        font=font("serif", 46),
        fill=INK,
    )
    face = font("serif", 36)
    y = 390
    for line in wrap("　　" + body_text(view), face, WIDTH - 2 * MARGIN):
        draw.text((MARGIN, y), line, font=face, fill=INK)
        y += 58

    right = WIDTH - MARGIN
    draw.text(
        (right, HEIGHT - 190), ISSUER, font=font("serif", 36), fill=INK, anchor="ra"
    )
    draw.text(
        (right, HEIGHT - 135),
        issue_date(view, tz),
        font=font("serif", 32),
        fill=INK,
        anchor="ra",
    )

    qr = qr_image(verify_url, target=180)
    side = qr.width
    left, top = MARGIN - 20, HEIGHT - 70 - side - 20
    img.paste(qr, (left, top))
    small = font("sans", 22)
    draw.text((left + side + 16, top + 40), "扫码核验证书", font=small, fill=MUTED)
    draw.text(
        (left + side + 16, top + 80),
        f"证书编号 {view.display_code}",
        font=small,
        fill=INK,
    )

    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()
