"""Screenshots are checked by their bytes: PNG, JPEG, GIF and WebP up to 5 MB; a renamed program or an SVG never."""

from __future__ import annotations

import hashlib

import pytest

from rules.school_media.screenshots import MAX_BYTES, ScreenshotError, check_image, dimensions
from tests.rules.school_media.images import GIF, JPEG, PNG, WEBP, declared_png, gif, jpeg, webp_vp8x


@pytest.mark.parametrize(("data", "kind"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (GIF, "image/gif"),
                                            (WEBP, "image/webp")])
def test_the_four_image_types_are_known_by_their_bytes(data: bytes, kind: str) -> None:
    checked = check_image(data)
    assert checked.content_type == kind and checked.size == len(data)
    assert checked.sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("data", "words"), [
    (b"MZ\x90\x00\x03" + b"\x00" * 200, "not a PNG, JPEG, GIF or WebP"),  # a Windows program called photo.png
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "not a PNG"),
    (b"<!doctype html><img src=x onerror=alert(1)>", "not a PNG"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a PNG"),  # a RIFF that is not WebP
    (b"", "empty"),
])
def test_anything_else_is_refused(data: bytes, words: str) -> None:
    with pytest.raises(ScreenshotError, match=words):
        check_image(data)


def test_the_size_limit_is_5_mb_exactly() -> None:
    assert check_image(PNG + b"\x00" * (MAX_BYTES - len(PNG))).size == MAX_BYTES
    with pytest.raises(ScreenshotError, match=r"5\.0 MB: a screenshot may be at most 5 MB"):
        check_image(PNG + b"\x00" * (MAX_BYTES - len(PNG) + 1))


@pytest.mark.parametrize("data", [
    declared_png(60_000, 60_000),  # a few kilobytes that would decode to gigabytes in the headteacher's browser
    declared_png(40_000, 100),  # a side longer than any screen's capture
    declared_png(8_000, 8_000),  # 64 megapixels
    jpeg(65_535, 65_535),
    gif(65_535, 65_535),
    webp_vp8x(20_000, 20_000),
])
def test_an_image_that_declares_a_huge_size_is_refused(data: bytes) -> None:
    with pytest.raises(ScreenshotError, match="pixels: a screenshot is at most 32,768 pixels a side and 50 megapixels"):
        check_image(data)


@pytest.mark.parametrize(("data", "size"), [
    (declared_png(1_290, 30_000), (1_290, 30_000)),  # a phone's long scrolling capture
    (jpeg(4_032, 3_024), (4_032, 3_024)),
    (gif(640, 480), (640, 480)),
    (webp_vp8x(1_920, 1_080), (1_920, 1_080)),
])
def test_screens_and_long_captures_are_kept(data: bytes, size: tuple[int, int]) -> None:
    checked = check_image(data)
    assert dimensions(checked.data, checked.content_type) == size
