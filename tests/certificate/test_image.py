"""The certificate PNG: a real PNG of the fixed size, Chinese text drawn with
the packaged font, a QR code that decodes to the verify URL."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import zxingcpp
from PIL import Image, ImageChops, ImageDraw

from quiz_app.certificate import image
from quiz_app.certificate.services import CertificateView
from tests.certificate.conftest import my_code

TZ = ZoneInfo("Asia/Shanghai")
URL = "https://kepu.example.cn/verify/ABCDEFGHJK"


def view(**changes) -> CertificateView:
    values = dict(
        code="ABCDEFGHJK",
        contest_id=1,
        contest_title="2023年唐山市公民科学素质知识网络竞赛",
        name="欧阳小明",
        region_code="qianan",
        region_name="迁安市",
        score=90,
        max_score=100,
        excellent_min=80,
        issued_at=datetime(2023, 9, 18, 2, 0, tzinfo=UTC),
    )
    values.update(changes)
    return CertificateView(**values)


def decode(png: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def name_box(cert: CertificateView) -> tuple[int, int, int, int]:
    """Where render_png draws the name line."""
    face = image.font("serif", 46)
    left, top, right, bottom = face.getbbox(f"{cert.name}（{cert.region_name}）：")
    return (image.MARGIN + left, 300 + top, image.MARGIN + right, 300 + bottom)


def test_png_is_valid_with_the_expected_size():
    png = image.render_png(view(), URL, TZ)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = decode(png)
    assert img.format == "PNG"
    assert img.size == (image.WIDTH, image.HEIGHT)


def test_qr_code_decodes_to_the_verify_url():
    img = decode(image.render_png(view(), URL, TZ))
    found = zxingcpp.read_barcodes(img)
    assert [(b.format, b.text) for b in found] == [(zxingcpp.BarcodeFormat.QRCode, URL)]


def test_name_is_drawn_as_glyphs_not_boxes():
    img = decode(image.render_png(view(), URL, TZ)).convert("RGB")
    box = name_box(view())
    crop = img.crop(box)
    ink = sum(crop.convert("L").histogram()[:100])
    assert ink > 500  # dark pixels where the name is written
    # Each character has its own shape: a font without CJK glyphs would draw
    # the same .notdef box for all of them.
    face = image.font("serif", 46)
    shapes = set()
    for ch in "欧阳小明":
        tile = Image.new("L", (60, 60), 255)
        ImageDraw.Draw(tile).text((5, 0), ch, font=face, fill=0)
        shapes.add(tile.tobytes())
    assert len(shapes) == 4
    # and another name gives another picture in that place
    other = decode(image.render_png(view(name="李四"), URL, TZ)).convert("RGB")
    assert ImageChops.difference(crop, other.crop(box)).getbbox() is not None


@pytest.mark.parametrize(("score", "title"), [(80, "优秀证书"), (79, "参赛证书")])
def test_band_title_follows_the_score(score, title):
    cert = view(score=score)
    assert cert.title == title
    assert "优秀" in image.body_text(cert) or score < 80


def test_long_text_wraps_inside_the_margins():
    face = image.font("serif", 36)
    lines = image.wrap("测" * 80 + "。", face, 400)
    assert all(face.getlength(line) <= 400 + face.getlength("。") for line in lines)
    assert "".join(lines) == "测" * 80 + "。"
    assert not lines[-1].startswith("。")


def test_render_time_is_small():
    image.render_png(view(), URL, TZ)  # fonts loaded
    started = time.perf_counter()
    for _ in range(5):
        image.render_png(view(), URL, TZ)
    per_image = (time.perf_counter() - started) / 5
    assert per_image < 0.5, per_image


def test_download_is_an_attachment_png(api, finished):
    api.login(finished)
    code = my_code(api)
    r = api.client.get("/me/certificate.png")
    assert r.status_code == 200
    assert r.mimetype == "image/png"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert code in disposition and "filename*=UTF-8''" in disposition
    img = decode(r.data)
    assert img.size == (image.WIDTH, image.HEIGHT)
    found = zxingcpp.read_barcodes(img)
    assert [b.text for b in found] == [f"http://localhost/verify/{code}"]
