"""Images with Pillow: sanitised once on upload, then rendered per network on demand.

Ingest (once, on upload): accept only real JPEG, PNG, WebP or GIF (first frame) files
within a byte and a pixel limit, decode them fully (a truncated file is refused), apply
the EXIF orientation, convert to sRGB, drop every piece of metadata (EXIF, GPS, XMP, ICC,
text chunks) by re-encoding the pixels alone, and warn when the image is small.

Renditions (per network, cached on disk under MEDIA_ROOT/renditions/): the stored
original made to fit that network's formats, byte, pixel, side and aspect-ratio limits.
Photos are decoded at reduced scale where the JPEG decoder allows it (draft mode), and the
JPEG quality is searched to fit the byte limit before any further downscaling.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

ALLOWED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")
MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp", "GIF": "image/gif"}
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}
JPEG_QUALITY = 90
JPEG_QUALITY_FLOOR = 55
_SRGB = ImageCms.createProfile("sRGB")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def max_upload_bytes() -> int:
    return int(getattr(settings, "TANDEM_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))


def max_image_pixels() -> int:
    # 50 Mpx is more than any phone or camera a comms team uses, and far below what
    # would exhaust a worker's memory (50 Mpx RGBA = 200 MB).
    return int(getattr(settings, "TANDEM_MAX_IMAGE_PIXELS", 50_000_000))


def max_image_samples() -> int:
    # Decoding costs memory and time in proportion to pixels × bands, not pixels: a 50 Mpx
    # RGBA PNG that compresses to 194 KB decodes to 200 MB and took 5.8 s and 300 MB to
    # ingest. 90 M samples admits a 30 Mpx RGB photo or a 22 Mpx RGBA graphic (worst case
    # measured by bench/images.py: under 300 MB peak).
    return int(getattr(settings, "TANDEM_MAX_IMAGE_SAMPLES", 90_000_000))


# Bands per pixel of the widest form an image of each mode takes during ingest (a palette
# becomes RGB(A), 16-bit grey passes through 32-bit integers); unknown modes count as 4.
_INGEST_BANDS = {"1": 1, "L": 1, "RGB": 3, "YCbCr": 3, "LAB": 3, "HSV": 3}


def ingest_samples(mode: str, width: int, height: int) -> int:
    """Pixels × bands of an image while it is ingested, known from its header alone."""
    return width * height * _INGEST_BANDS.get(mode, 4)


def min_image_side() -> int:
    return int(getattr(settings, "TANDEM_MIN_IMAGE_SIDE", 1080))


@dataclass(frozen=True)
class IngestedImage:
    content: bytes
    format: str  # "JPEG" or "PNG": what we re-encoded, never what was uploaded
    width: int
    height: int
    sha256: str
    warnings: list[str] = field(default_factory=list)

    @property
    def extension(self) -> str:
        return self.format.lower()

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]


def _refuse(message: Any, code: str, **params: Any) -> ValidationError:
    return ValidationError(message, code=code, params=params or None)


def _read_limited(file: Any, limit: int) -> bytes:
    size = getattr(file, "size", None)
    if isinstance(size, int) and size > limit:
        raise _too_large(size, limit)
    if hasattr(file, "seek"):
        file.seek(0)
    if hasattr(file, "chunks"):
        data = bytearray()
        for chunk in file.chunks():
            data += chunk
            if len(data) > limit:
                raise _too_large(len(data), limit)
        return bytes(data)
    data = file.read(limit + 1)
    if len(data) > limit:
        raise _too_large(len(data), limit)
    return bytes(data)


def _too_large(size: int, limit: int) -> ValidationError:
    return _refuse(
        _("The image is too large: %(size)s MB (limit %(limit)s MB)."),
        "too_large",
        size=f"{size / 1_000_000:.3g}",
        limit=f"{limit / 1_000_000:.3g}",
    )


def _to_srgb(img: Image.Image) -> Image.Image:
    """Pixels in sRGB: through the embedded ICC profile when there is one (CMYK, Adobe RGB, P3)."""
    icc = img.info.get("icc_profile")
    if icc and img.mode in ("RGB", "RGBA", "CMYK", "L"):
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            out_mode = "RGBA" if img.mode == "RGBA" else "RGB"
            converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=out_mode)
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to Pillow's own conversion below
    return img


def _normalise_mode(img: Image.Image) -> Image.Image:
    """8-bit L, RGB or RGBA, whatever came in (16-bit, palette, CMYK, 1-bit, float)."""
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits (a plain convert would clip everything to white).
        extrema = img.getextrema()
        high = extrema[1] if isinstance(extrema[1], int | float) else 0
        top = 65535 if img.mode.startswith("I;16") or high > 255 else 255
        img = img.convert("I").point(lambda v: v * (255 / top)).convert("L")
    elif img.mode == "F":
        img = img.convert("L")
    elif img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("P", "PA"):
        img = img.convert("RGBA" if ("transparency" in img.info or img.mode == "PA") else "RGB")
    elif img.mode == "LA":
        img = img.convert("RGBA")
    elif img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGB")  # CMYK without a profile, YCbCr, LAB, ...
    if img.mode == "RGBA":
        alpha = img.getchannel("A")
        if alpha.getextrema()[0] == 255:  # fully opaque: the alpha channel carries nothing
            img = img.convert("RGB")
    return img


def _encode(img: Image.Image, fmt: str, *, quality: int = JPEG_QUALITY) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG":
        img.save(buffer, "JPEG", quality=quality, optimize=False)
    elif fmt == "PNG":
        img.save(buffer, "PNG", compress_level=6)
    elif fmt == "WEBP":
        img.save(buffer, "WEBP", quality=quality, method=4)
    else:
        img.save(buffer, fmt)
    return buffer.getvalue()


def _open_checked(data: bytes) -> Image.Image:
    """Open and identify without decoding; refuse what is not an allowed image or too big."""
    try:
        # Pillow refuses > 2× its own limit here; our lower limit is checked just below, from
        # the header alone (warnings.catch_warnings would not be thread-safe in a web worker).
        img = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise _refuse(
            _("The image has too many pixels (limit %(limit)s megapixels)."),
            "too_many_pixels",
            limit=max_image_pixels() // 1_000_000,
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise _refuse(_("This file is not an image."), "not_an_image") from exc
    if img.format not in ALLOWED_FORMATS:
        raise _refuse(
            _("Images in %(format)s format are not accepted: use JPEG, PNG, WebP or GIF."),
            "format",
            format=img.format or "?",
        )
    width, height = img.size
    if width < 1 or height < 1:
        raise _refuse(_("This file is not an image."), "not_an_image")
    if width * height > max_image_pixels():
        raise _refuse(
            _("The image has too many pixels: %(pixels)s megapixels (limit %(limit)s megapixels)."),
            "too_many_pixels",
            pixels=f"{width * height / 1_000_000:.0f}",
            limit=max_image_pixels() // 1_000_000,
        )
    # Checked on the header, before a single pixel is decoded.
    if ingest_samples(img.mode, width, height) > max_image_samples():
        raise _refuse(
            _(
                "The image is too large to process: %(width)s×%(height)s pixels in %(mode)s. "
                "Reduce it to at most %(pixels)s megapixels (for a photo without transparency, "
                "%(rgb_pixels)s megapixels)."
            ),
            "too_many_samples",
            width=width,
            height=height,
            mode=img.mode,
            pixels=f"{max_image_samples() / 4 / 1_000_000:.0f}",
            rgb_pixels=f"{max_image_samples() / 3 / 1_000_000:.0f}",
        )
    return img


def image_ingest(file: Any) -> IngestedImage:
    """Validate and sanitise an uploaded image; raises ValidationError with a clear message.

    `file` is an UploadedFile, a Django File or any binary file object. Nothing is written.
    """
    data = _read_limited(file, max_upload_bytes())
    if not data:
        raise _refuse(_("The file is empty."), "empty")
    img = _open_checked(data)
    notes: list[str] = []
    source_format = img.format
    try:
        # verify() checks structure and checksums without decoding; it invalidates the object.
        img.verify()
        img = _open_checked(data)
        if getattr(img, "n_frames", 1) > 1:
            notes.append(str(_("Only the first frame of this animated image is kept.")))
            img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img) or img
        img = _to_srgb(img)
        img = _normalise_mode(img)
    except ValidationError:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise _refuse(_("The image file is damaged or incomplete."), "damaged") from exc
    # Nothing from the upload but its pixels: no EXIF (GPS), XMP, ICC, comments or text chunks.
    img.info = {}
    keep_png = source_format in ("PNG", "GIF") or img.mode == "RGBA"
    fmt = "PNG" if keep_png else "JPEG"
    if fmt == "JPEG" and img.mode not in ("RGB", "L"):
        img = img.convert("RGB")
    content = _encode(img, fmt)
    width, height = img.size
    if max(width, height) < min_image_side():
        notes.append(
            str(
                _(
                    "The image is small (%(width)s×%(height)s pixels): it may look blurry. "
                    "At least %(minimum)s pixels on the longer side is better."
                )
                % {"width": width, "height": height, "minimum": min_image_side()}
            )
        )
    return IngestedImage(
        content=content,
        format=fmt,
        width=width,
        height=height,
        sha256=hashlib.sha256(content).hexdigest(),
        warnings=notes,
    )


# --- Renditions -------------------------------------------------------------------------


class ImageLimits(Protocol):
    """The image part of a network's limits (channels.base.Limits has these fields): media sits
    below channels, so it names the shape it reads instead of importing the adapters' type."""

    @property
    def image_formats(self) -> tuple[str, ...]: ...
    @property
    def image_bytes_max(self) -> int | None: ...
    @property
    def image_pixels_max(self) -> int | None: ...
    @property
    def image_side_max(self) -> int | None: ...
    @property
    def image_sides_sum_max(self) -> int | None: ...
    @property
    def image_aspect_min(self) -> float | None: ...
    @property
    def image_aspect_max(self) -> float | None: ...


@dataclass(frozen=True)
class RenditionSpec:
    """What one network accepts for an image."""

    formats: tuple[str, ...] = ("JPEG", "PNG")
    max_bytes: int | None = None
    max_pixels: int | None = None
    max_side: int | None = None
    max_sides_sum: int | None = None
    aspect_min: float | None = None
    aspect_max: float | None = None

    @classmethod
    def from_limits(cls, limits: ImageLimits) -> RenditionSpec:
        return cls(
            formats=tuple(f for f in limits.image_formats if f in ("JPEG", "PNG", "WEBP")) or ("JPEG",),
            max_bytes=limits.image_bytes_max,
            max_pixels=limits.image_pixels_max,
            max_side=limits.image_side_max,
            max_sides_sum=limits.image_sides_sum_max,
            aspect_min=limits.image_aspect_min,
            aspect_max=limits.image_aspect_max,
        )

    def key(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:10]


@dataclass(frozen=True)
class Rendition:
    path: Path
    name: str  # relative to the renditions folder; also its public URL's last part
    format: str
    width: int
    height: int
    size: int

    @property
    def mime_type(self) -> str:
        return MIME_TYPES[self.format]

    def read(self) -> bytes:
        return self.path.read_bytes()


def renditions_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "renditions"


def rendition_url(rendition: Rendition) -> str:
    """Where a network that fetches images (Instagram) finds this one: our public URL."""
    base = settings.TANDEM_PUBLIC_URL.rstrip("/")
    media = settings.MEDIA_URL.strip("/")
    return f"{base}/{media}/renditions/{rendition.name}"


def _source_digest(path: Path) -> str:
    # Stored originals are named by their SHA-256 (models.attachment_path): no need to re-hash.
    if _HEX64.match(path.stem):
        return path.stem
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _canvas_size(width: int, height: int, spec: RenditionSpec) -> tuple[int, int]:
    """The frame after padding to the allowed aspect ratio (padding never cuts content)."""
    ratio = width / height
    if spec.aspect_min and ratio < spec.aspect_min:
        return math.ceil(height * spec.aspect_min), height
    if spec.aspect_max and ratio > spec.aspect_max:
        return width, math.ceil(width / spec.aspect_max)
    return width, height


def _scale_for(width: int, height: int, spec: RenditionSpec) -> float:
    scale = 1.0
    if spec.max_side:
        scale = min(scale, spec.max_side / max(width, height))
    if spec.max_pixels:
        scale = min(scale, math.sqrt(spec.max_pixels / (width * height)))
    if spec.max_sides_sum:
        scale = min(scale, spec.max_sides_sum / (width + height))
    return scale


@dataclass(frozen=True)
class RenditionFrame:
    """Where a stored image lands in a network's rendition, without rendering it: the frame's
    size in pixels and the picture's box inside it as fractions (padding fills the rest).
    A byte limit may shrink a rendition further when it is encoded; never the other way."""

    width: int
    height: int
    left: float
    top: float
    box_width: float
    box_height: float


def rendition_frame(width: int, height: int, spec: RenditionSpec) -> RenditionFrame:
    """The geometry `rendition_for` produces, from the same padding and scaling rules."""
    canvas_w, canvas_h = _canvas_size(width, height, spec)
    scale = _scale_for(canvas_w, canvas_h, spec)
    frame_w, frame_h = max(1, round(canvas_w * scale)), max(1, round(canvas_h * scale))
    return RenditionFrame(
        width=frame_w,
        height=frame_h,
        left=(canvas_w - width) / 2 / canvas_w,
        top=(canvas_h - height) / 2 / canvas_h,
        box_width=width / canvas_w,
        box_height=height / canvas_h,
    )


def _fit_canvas(img: Image.Image, canvas: tuple[int, int], flatten: bool) -> Image.Image:
    if img.mode == "RGBA" and flatten:
        background = Image.new("RGB", img.size, (255, 255, 255))
        background.paste(img, mask=img.getchannel("A"))
        img = background
    if canvas == img.size:
        return img
    fill: Any = (255, 255, 255, 0) if img.mode == "RGBA" else (255 if img.mode == "L" else (255, 255, 255))
    frame = Image.new(img.mode, canvas, fill)
    frame.paste(img, ((canvas[0] - img.width) // 2, (canvas[1] - img.height) // 2))
    return frame


def _encode_within(img: Image.Image, fmt: str, max_bytes: int | None) -> bytes | None:
    """The best encoding within max_bytes, or None if even the lowest quality is too big."""
    if fmt != "JPEG":
        content = _encode(img, fmt)
        return content if max_bytes is None or len(content) <= max_bytes else None
    content = _encode(img, fmt, quality=JPEG_QUALITY)
    if max_bytes is None or len(content) <= max_bytes:
        return content
    low, high, best = JPEG_QUALITY_FLOOR, JPEG_QUALITY - 1, None
    while low <= high:  # binary search on quality: the largest quality that fits
        quality = (low + high) // 2
        candidate = _encode(img, fmt, quality=quality)
        if len(candidate) <= max_bytes:
            best, low = candidate, quality + 1
        else:
            high = quality - 1
    return best


class _ImageCache:
    """Decoded and resized images of recent sources, bounded in bytes.

    A message fanned out to many channels renders the same source once per network, often
    in one worker at the same moment; decoding a 24 Mpx JPEG or resizing it to 2048 px once
    instead of ten times is most of the cost."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[Any, ...], Image.Image] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _size(img: Image.Image) -> int:
        return img.width * img.height * len(img.getbands())

    def get(self, key: tuple[Any, ...]) -> Image.Image | None:
        with self._lock:
            img = self._items.get(key)
            if img is not None:
                self._items.move_to_end(key)
            return img

    def put(self, key: tuple[Any, ...], img: Image.Image) -> None:
        if self._size(img) > self.max_bytes // 2:
            return  # one huge image would evict everything else for little gain
        with self._lock:
            self._items[key] = img
            while sum(self._size(i) for i in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_CACHE = _ImageCache(max_bytes=96 * 1024 * 1024)


def _jpeg_draft_factor(size: tuple[int, int], requested: tuple[int, int]) -> int:
    # The reduction Pillow's JPEG draft() picks for this request (1, 2, 4 or 8).
    scale = min(size[0] // requested[0], size[1] // requested[1])
    return next(factor for factor in (8, 4, 2, 1) if scale >= factor)


def _decoded(source: Path, scale: float) -> tuple[Image.Image, tuple[int, int], tuple[Any, ...]]:
    """The source decoded at the smallest JPEG draft scale still ≥ `scale`; its original size."""
    stamp = source.stat().st_mtime_ns
    with Image.open(source) as opened:
        size = opened.size
        factor = 1
        requested = (max(1, int(size[0] * scale)), max(1, int(size[1] * scale)))
        if opened.format == "JPEG" and scale < 1:
            factor = _jpeg_draft_factor(size, requested)
        key = (str(source), stamp, factor)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached, size, key
        if factor > 1:
            # Decode at 1/2, 1/4 or 1/8 scale straight from the DCT: far less time and memory.
            opened.draft(opened.mode, requested)
        opened.load()
        img = opened if opened.mode in ("L", "RGB", "RGBA") else opened.convert("RGB")
    _CACHE.put(key, img)
    return img, size, key


def _resized(img: Image.Image, key: tuple[Any, ...], target: tuple[int, int]) -> Image.Image:
    if img.size == target:
        return img
    cached = _CACHE.get((*key, target))
    if cached is not None:
        return cached
    resized = img.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0)
    _CACHE.put((*key, target), resized)
    return resized


def _render(source: Path, spec: RenditionSpec) -> tuple[bytes, str, int, int]:
    with Image.open(source) as probe:
        src_w, src_h = probe.size
    canvas_w, canvas_h = _canvas_size(src_w, src_h, spec)
    scale = _scale_for(canvas_w, canvas_h, spec)
    img, _size, key = _decoded(source, scale)
    has_alpha = img.mode == "RGBA"
    prefers_png = has_alpha or source.suffix.lower() == ".png"
    order = [f for f in ("PNG", "JPEG", "WEBP") if f in spec.formats]
    if not prefers_png:
        order.sort(key=lambda f: f != "JPEG")
    while True:
        target = (max(1, round(src_w * scale)), max(1, round(src_h * scale)))
        frame_size = (max(1, round(canvas_w * scale)), max(1, round(canvas_h * scale)))
        resized = _resized(img, key, target)
        for fmt in order:
            frame = _fit_canvas(resized, frame_size, flatten=fmt == "JPEG")
            if fmt == "JPEG" and frame.mode not in ("RGB", "L"):
                frame = frame.convert("RGB")
            content = _encode_within(frame, fmt, spec.max_bytes)
            if content is not None:
                return content, fmt, frame.width, frame.height
        if max(frame_size) <= 64:
            raise ValueError("Cannot fit the image within the network's byte limit.")
        scale *= 0.8


def rendition_for(source_path: str | os.PathLike[str], spec: RenditionSpec, *, kind: str) -> Rendition:
    """The cached rendition of a stored image for one network; made on first use."""
    source = Path(source_path)
    folder = renditions_dir()
    stem = f"{_source_digest(source)}-{kind}-{spec.key()}"
    for fmt in ("JPEG", "PNG", "WEBP"):
        cached = folder / f"{stem}.{EXTENSIONS[fmt]}"
        if cached.exists():
            with Image.open(cached) as existing:
                width, height = existing.size
            return Rendition(cached, cached.name, fmt, width, height, cached.stat().st_size)
    content, fmt, width, height = _render(source, spec)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{stem}.{EXTENSIONS[fmt]}"
    # Atomic: a concurrent worker or a reader never sees half a file.
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(content)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Rendition(target, target.name, fmt, width, height, len(content))


RENDITION_NAME = re.compile(r"[0-9a-f]{64}-[a-z0-9_]+-[0-9a-f]{10}\.(jpg|png|webp)")


def rendition_open(name: str) -> IO[bytes] | None:
    """A rendition file by its public name (for the view serving them), or None."""
    if not RENDITION_NAME.fullmatch(name):
        return None
    path = renditions_dir() / name
    return path.open("rb") if path.is_file() else None


def renditions_remove(sha256s: Iterable[str]) -> list[str]:
    """Delete every cached rendition of these stored originals (all networks); returns the
    names removed. The originals stay: they are the message's record, not public."""
    folder = renditions_dir()
    removed: list[str] = []
    for sha in sorted(set(sha256s)):
        if not _HEX64.match(sha) or not folder.is_dir():
            continue
        for path in folder.glob(f"{sha}-*"):
            if RENDITION_NAME.fullmatch(path.name):
                path.unlink(missing_ok=True)
                removed.append(path.name)
    return removed
