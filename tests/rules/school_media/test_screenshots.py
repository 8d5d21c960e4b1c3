"""Screenshots are checked by their bytes: PNG, JPEG, GIF and WebP up to 5 MB; a renamed program or an SVG never."""

from __future__ import annotations

import hashlib

import pytest

from rules.school_media.screenshots import MAX_BYTES, ScreenshotError, check_image
from tests.rules.school_media.images import GIF, JPEG, PNG, WEBP


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
