"""Image checks and thumbnails with Pillow. Blocking: callers run these in a thread."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, ImageOps

log = logging.getLogger(__name__)

# The formats we decode, and the types they are served as. Pillow opens nothing else, which
# keeps its less travelled decoders away from hostile files.
RASTER_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
# Exactly the files of these types have a thumbnail: an upload keeps one of these types only
# when its thumbnail was made.
THUMBNAILED_TYPES = frozenset(RASTER_TYPES.values())
THUMBNAIL_TYPE = "image/webp"

# EXIF orientations that turn the picture a quarter: width and height swap on display.
_QUARTER_TURNS = {5, 6, 7, 8}


class ImageTooLarge(Exception):
    """More pixels than allowed: a decompression bomb, or simply too big to handle."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    content_type: str
    width: int  # as displayed, after EXIF orientation
    height: int


def make_thumbnail(source: Path, target: Path, *, max_px: int, max_pixels: int) -> ImageInfo | None:
    """Decode the image at `source` and write a thumbnail of it to `target`: at most `max_px`
    on each side, EXIF orientation applied, no metadata.

    Returns None when the bytes are not an image Pillow can fully decode (corrupt, truncated):
    the caller keeps such a file as plain bytes. Raises ImageTooLarge before decoding
    anything when the image has more than `max_pixels` pixels.
    """
    try:
        with Image.open(source, formats=list(RASTER_TYPES)) as image:
            width, height = image.size
            if width * height > max_pixels:
                raise ImageTooLarge
            info = _displayed(image)
            image.draft("RGB", (max_px, max_px))  # JPEG: decode at a fraction of full size
            upright = ImageOps.exif_transpose(image)
            if upright.mode.startswith("I;16"):
                upright = upright.convert("I")  # resampling has no 16-bit mode
            upright.thumbnail((max_px, max_px))
            thumbnail = _eight_bit(upright)
            thumbnail.info.clear()
            thumbnail.save(target, format="WEBP", quality=80)
            return info
    except Image.DecompressionBombError as exc:
        raise ImageTooLarge from exc
    except ImageTooLarge:
        raise
    except Exception as exc:
        # Decoders meet hostile input here and fail in many ways (OSError for truncation,
        # SyntaxError, ValueError, struct.error, ...); any of them means "not an image".
        log.info("not a decodable image: %s", exc)
        target.unlink(missing_ok=True)
        return None


def _displayed(image: Image.Image) -> ImageInfo:
    width, height = image.size
    if image.getexif().get(ExifTags.Base.Orientation) in _QUARTER_TURNS:
        width, height = height, width
    assert image.format is not None
    return ImageInfo(RASTER_TYPES[image.format], width, height)


def _eight_bit(image: Image.Image) -> Image.Image:
    if image.mode == "I":  # 16-bit grey (PNG): scale its range down, not clip it
        image = image.point(lambda value: value / 257).convert("L")
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
