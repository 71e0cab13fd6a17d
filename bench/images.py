"""Image pipeline benchmark: ingest of a generated 24-megapixel photo, then every
network's rendition, timed, with the process's peak memory; then the worst images the
upload limits still accept, each ingested in a fresh process (its own peak RSS).

    DEBUG=1 .venv/bin/python bench/images.py

Target on the reference machine: ≤ 1 s and ≤ 300 MB for ingest + all renditions, and
≤ 300 MB for the ingest of the worst accepted image.
The photo is noise over gradients, so JPEG sizes are like a real photo's (not a flat
image that compresses to nothing), with an EXIF orientation and GPS block to strip.
"""

from __future__ import annotations

import io
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
os.environ["MEDIA_ROOT"] = tempfile.mkdtemp(prefix="tandem-bench-")
django.setup()

from django.utils.module_loading import import_string  # noqa: E402
from PIL import Image  # noqa: E402

from publisher.channels.registry import BUILTIN_ADAPTERS  # noqa: E402
from publisher.media.images import (  # noqa: E402
    _CACHE,
    RenditionSpec,
    image_ingest,
    ingest_samples,
    max_image_pixels,
    max_image_samples,
    rendition_for,
    renditions_dir,
)

WIDTH, HEIGHT = 6000, 4000  # 24 Mpx, a typical full-frame camera


def photo() -> bytes:
    """Gradients plus coarse and fine noise: compresses like a camera photo (~6-7 MB at q92)."""
    base = Image.linear_gradient("L").resize((WIDTH, HEIGHT))
    coarse = Image.effect_noise((WIDTH // 4, HEIGHT // 4), 30).resize((WIDTH, HEIGHT), Image.Resampling.BICUBIC)
    fine = Image.effect_noise((WIDTH, HEIGHT), 8)
    rgb = Image.merge(
        "RGB",
        (Image.blend(base, coarse, 0.4), Image.blend(coarse, fine, 0.3), base.transpose(Image.Transpose.ROTATE_180)),
    )
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: ingest must apply it
    exif.get_ifd(0x8825)[2] = (50.0, 50.0, 0.0)  # GPS: ingest must drop it
    buffer = io.BytesIO()
    rgb.save(buffer, "JPEG", quality=92, exif=exif)
    return buffer.getvalue()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    cache = Path(tempfile.gettempdir()) / f"tandem-bench-{WIDTH}x{HEIGHT}.jpg"
    if not cache.exists():
        # Made by a separate run so generating it does not count in this process's peak memory.
        import subprocess

        code = "import bench.images as b, pathlib, sys; pathlib.Path(sys.argv[1]).write_bytes(b.photo())"
        subprocess.run([sys.executable, "-c", code, str(cache)], check=True, cwd=Path(__file__).resolve().parent.parent)
    data = cache.read_bytes()
    print(f"input: {WIDTH}×{HEIGHT} JPEG, {len(data) / 1e6:.1f} MB; peak RSS before: {peak_mb():.0f} MB")
    specs = {}
    for kind, path in sorted(BUILTIN_ADAPTERS.items()):
        limits = import_string(path).limits
        if limits.image_bytes_max or limits.image_side_max or limits.image_pixels_max:
            specs[kind] = RenditionSpec.from_limits(limits)

    start = time.perf_counter()
    ingested = image_ingest(io.BytesIO(data))
    ingest_s = time.perf_counter() - start
    source = Path(os.environ["MEDIA_ROOT"]) / f"{ingested.sha256}.jpeg"
    source.write_bytes(ingested.content)
    print(
        f"ingest: {ingest_s * 1000:.0f} ms → {ingested.width}×{ingested.height} {ingested.format}, "
        f"{len(ingested.content) / 1e6:.1f} MB"
    )

    total_renditions = 0.0
    for kind, spec in specs.items():
        t0 = time.perf_counter()
        rendition = rendition_for(source, spec, kind=kind)
        elapsed = time.perf_counter() - t0
        total_renditions += elapsed
        print(
            f"  {kind:10} {elapsed * 1000:5.0f} ms  {rendition.width}×{rendition.height} {rendition.format} "
            f"{rendition.size / 1e6:.2f} MB"
        )
    t0 = time.perf_counter()
    for kind, spec in specs.items():
        rendition_for(source, spec, kind=kind)
    cached = time.perf_counter() - t0
    print(f"renditions ({len(specs)}): {total_renditions * 1000:.0f} ms; again from cache: {cached * 1000:.1f} ms")
    print(f"TOTAL ingest + renditions: {(ingest_s + total_renditions) * 1000:.0f} ms; peak RSS: {peak_mb():.0f} MB")

    # For comparison: every rendition made cold, as if each ran in its own worker process
    # (no decoded image shared in memory).
    for made in renditions_dir().iterdir():
        made.unlink()
    cold = 0.0
    for kind, spec in specs.items():
        _CACHE.clear()
        t0 = time.perf_counter()
        rendition_for(source, spec, kind=kind)
        cold += time.perf_counter() - t0
    print(f"renditions without the shared in-memory cache: {cold * 1000:.0f} ms")


def worst_image(mode: str, side: int) -> bytes:
    """A side × side PNG in `mode` that stays under the upload's byte limit: gradients compress
    well, like the 194 KB bomb, and decoding costs the same whatever the pixels are."""
    gradient = Image.linear_gradient("L").resize((side, side))
    bands = [gradient.rotate(90 * i) for i, _band in enumerate(Image.new(mode, (1, 1)).getbands())]
    img = bands[0] if mode == "L" else Image.merge(mode, bands)  # RGBA: a real alpha gradient, stays RGBA
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def largest_side(mode: str) -> int:
    """The largest square of this mode that the pixel and pixels × bands limits accept."""
    side = int(max_image_pixels() ** 0.5)
    while ingest_samples(mode, side, side) > max_image_samples() or side * side > max_image_pixels():
        side -= 1
    return side


def high_water_mb() -> float:
    """This process's peak RSS since exec (VmHWM): getrusage's ru_maxrss survives exec on
    Linux and would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return peak_mb()


def ingest_one(path: str) -> None:
    """Run in its own process: one ingest, its time and the process's peak RSS."""
    data = Path(path).read_bytes()
    before = high_water_mb()
    start = time.perf_counter()
    result = image_ingest(io.BytesIO(data))
    elapsed = time.perf_counter() - start
    print(f"{elapsed * 1000:.0f} ms; peak RSS {high_water_mb():.0f} MB (before: {before:.0f} MB) → {result.format}")


def worst_accepted() -> None:
    print(
        f"worst accepted images (limits: {max_image_pixels() / 1e6:.0f} Mpx, "
        f"{max_image_samples() / 1e6:.0f} M pixels × bands), each ingested in a fresh process:"
    )
    root = Path(__file__).resolve().parent.parent
    for mode in ("RGBA", "RGB", "L"):
        side = largest_side(mode)
        cache = Path(tempfile.gettempdir()) / f"tandem-bench-worst-{mode}-{side}.png"
        if not cache.exists():
            import subprocess

            code = (
                "import bench.images as b, pathlib, sys; "
                "pathlib.Path(sys.argv[1]).write_bytes(b.worst_image(sys.argv[2], int(sys.argv[3])))"
            )
            subprocess.run([sys.executable, "-c", code, str(cache), mode, str(side)], check=True, cwd=root)
        import subprocess

        out = subprocess.run(
            [sys.executable, __file__, "--ingest-one", str(cache)], check=True, cwd=root, capture_output=True, text=True
        ).stdout.strip()
        print(
            f"  {mode:5} {side}×{side} ({side * side / 1e6:.1f} Mpx, {ingest_samples(mode, side, side) / 1e6:.0f} M "
            f"samples) PNG {cache.stat().st_size / 1e6:.1f} MB: {out}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--ingest-one"]:
        ingest_one(sys.argv[2])
    else:
        main()
        worst_accepted()
