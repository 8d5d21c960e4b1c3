"""Screenshots of abuse, checked before they are kept: what the bytes are, not what the file is called.

A file called `comment.png` may be an executable, an HTML page or an SVG (which is XML and can carry script);
served back as an image it must never be read as anything else. So the type is sniffed from the first bytes
(PNG, JPEG, GIF and WebP only), the name and the browser's claimed type are ignored, and the sniffed type is
what the file is served with later. The size is limited well below the web app's 64 MB request limit: a
screenshot is a few hundred kilobytes, and every gateway of a trust reads these rows from one database.

The picture's size is limited too, as its header declares it: five megabytes of PNG can declare 60,000 by 60,000
pixels of one colour, which the entry's page would have the headteacher's browser decode (gigabytes). A screenshot
is a screen, or a phone's long scrolling capture: at most 32,768 pixels a side and 50 megapixels.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

MAX_BYTES = 5 * 1024 * 1024
MAX_LABEL = "5 MB"
MAX_SIDE = 32_768
MAX_PIXELS = 50_000_000
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


def dimensions(data: bytes, kind: str) -> tuple[int, int] | None:
    """The width and height the image's header declares, or None where none can be read (nothing to draw)."""
    try:
        if kind == "image/png":
            return struct.unpack(">II", data[16:24]) if data[12:16] == b"IHDR" else None
        if kind == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if kind == "image/webp":
            return _webp_dimensions(data)
        return _jpeg_dimensions(data)
    except struct.error:
        return None


def _webp_dimensions(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        return (int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1)
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return (width & 0x3FFF, height & 0x3FFF)
    return None


_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_dimensions(data: bytes) -> tuple[int, int] | None:
    """The first frame header's size, walking the segments (each marker's length says where the next one is)."""
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD9)):  # markers without a length
            at += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image, or the scan: no frame header before it
            return None
        if marker in _JPEG_FRAMES:
            height, width = struct.unpack(">HH", data[at + 5:at + 9])
            return (width, height)
        at += 2 + struct.unpack(">H", data[at + 2:at + 4])[0]
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
    size = dimensions(data, kind)
    if size is not None and (max(size) > MAX_SIDE or size[0] * size[1] > MAX_PIXELS):
        raise ScreenshotError(f"the image says it is {size[0]:,} by {size[1]:,} pixels: a screenshot is at most "
                              f"{MAX_SIDE:,} pixels a side and {MAX_PIXELS // 1_000_000} megapixels")
    return CheckedImage(data, kind, len(data), hashlib.sha256(data).hexdigest())
