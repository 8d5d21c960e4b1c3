"""Screenshots of abuse, checked before they are kept: what the bytes are, not what the file is called.

A file called `comment.png` may be an executable, an HTML page or an SVG (which is XML and can carry script);
served back as an image it must never be read as anything else. So the type is sniffed from the first bytes
(PNG, JPEG, GIF and WebP only), the name and the browser's claimed type are ignored, and the sniffed type is
what the file is served with later. The size is limited well below the web app's 64 MB request limit: a
screenshot is a few hundred kilobytes, and every gateway of a trust reads these rows from one database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

MAX_BYTES = 5 * 1024 * 1024
MAX_LABEL = "5 MB"
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


class ScreenshotError(ValueError):
    """The file cannot be kept as a screenshot; the message says why, in words for the headteacher."""


@dataclass(frozen=True, slots=True)
class CheckedImage:
    """An upload that passed: its bytes, the type they are, their size and SHA-256."""

    data: bytes
    content_type: str
    size: int
    sha256: str

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]


def sniff(data: bytes) -> str | None:
    """The image type the bytes begin with (one of `EXTENSIONS`), or None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes) -> CheckedImage:
    """Accept a PNG, JPEG, GIF or WebP of at most 5 MB; ScreenshotError otherwise."""
    if not data:
        raise ScreenshotError("the file is empty")
    if len(data) > MAX_BYTES:
        raise ScreenshotError(f"the file is {len(data) / (1024 * 1024):.1f} MB: a screenshot may be at most "
                              f"{MAX_LABEL}. Crop it or save it as a JPEG, then upload it again")
    kind = sniff(data)
    if kind is None:
        raise ScreenshotError("the file is not a PNG, JPEG, GIF or WebP image (its contents were checked, not its "
                              "name): take a screenshot and upload that")
    return CheckedImage(data, kind, len(data), hashlib.sha256(data).hexdigest())
