"""Upload sanitising and per-network renditions, including hostile files."""

import io
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from publisher.media.images import RenditionSpec, image_ingest, rendition_for
from publisher.models import Attachment
from publisher.workflow.attachments import attachment_add
from tests.factories import make_message
from tests.fakes.fixtures import make_photo


def upload(data: bytes, name: str = "photo.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def codes(error: ValidationError) -> list[str]:
    return [e.code for e in error.error_list]


def opened(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content))


def exif_photo_with_gps() -> bytes:
    img = Image.open(io.BytesIO(make_photo(1600, 1200)))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (50.0, 50.0, 0.0), "E", (4.0, 21.0, 0.0)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", exif=exif, quality=90)
    return buffer.getvalue()


def test_photo_is_rotated_and_stripped_of_exif_and_gps():
    data = exif_photo_with_gps()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825)  # the upload does carry GPS

    result = image_ingest(upload(data))

    assert (result.width, result.height) == (1200, 1600)  # orientation applied
    img = opened(result.content)
    assert img.format == "JPEG"
    assert len(img.getexif()) == 0
    assert "exif" not in img.info
    assert "icc_profile" not in img.info
    assert b"PhoneMaker" not in result.content
    assert b"Exif" not in result.content
    assert result.warnings == []


def test_decompression_bomb_is_refused():
    buffer = io.BytesIO()
    Image.new("1", (10_000, 6_000)).save(buffer, "PNG")  # 60 Mpx in a tiny file
    assert len(buffer.getvalue()) < 200_000
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(buffer.getvalue(), "bomb.png"))
    assert codes(caught.value) == ["too_many_pixels"]


def png_header_only(width: int, height: int, color_type: int) -> bytes:
    """A well-formed PNG that declares width × height but carries almost no pixel data:
    what a pixel bomb looks like to every check that runs before decoding."""
    import struct
    import zlib

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def test_rgba_pixel_bomb_is_refused_from_its_header_before_decoding(monkeypatch):
    # 7,070 × 7,070 RGBA: just under the pixel limit, but 200 MB once decoded (it took 5.8 s and 300 MB).
    from PIL import ImageFile

    def no_decoding(self):
        raise AssertionError("the image was decoded before it was refused")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(png_header_only(7070, 7070, color_type=6), "bomb.png"))
    assert codes(caught.value) == ["too_many_samples"]
    assert "7070×7070" in str(caught.value.messages[0])


def test_samples_limit_admits_a_large_photo_and_counts_bands():
    from publisher.media.images import ingest_samples, max_image_samples

    assert ingest_samples("RGB", 6000, 4000) <= max_image_samples()  # 24 Mpx camera photo
    assert ingest_samples("L", 10_000, 5_000) <= max_image_samples()  # 50 Mpx greyscale scan
    assert ingest_samples("RGBA", 7070, 7070) > max_image_samples()
    assert ingest_samples("P", 7070, 7070) > max_image_samples()  # a palette becomes RGB(A)
    assert ingest_samples("I;16", 7070, 7070) > max_image_samples()  # 16-bit grey passes through 32 bits


def test_truncated_jpeg_is_refused():
    data = make_photo(1600, 1200)
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(data[: len(data) // 2]))
    assert codes(caught.value) == ["damaged"]


def test_text_renamed_png_is_not_an_image():
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(b"<?php system($_GET['c']); ?>\n" * 20, "innocent.png"))
    assert codes(caught.value) == ["not_an_image"]
    assert "This file is not an image." in caught.value.messages


def test_other_formats_are_refused():
    buffer = io.BytesIO()
    Image.new("RGB", (1200, 900)).save(buffer, "BMP")
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(buffer.getvalue(), "x.bmp"))
    assert codes(caught.value) == ["format"]


def test_oversize_file_is_refused_with_sizes(settings):
    settings.TANDEM_MAX_UPLOAD_BYTES = 50_000
    with pytest.raises(ValidationError) as caught:
        image_ingest(upload(make_photo(2000, 1500)))
    assert codes(caught.value) == ["too_large"]
    assert "(limit 0.05 MB)" in caught.value.messages[0]


def test_cmyk_jpeg_becomes_rgb():
    buffer = io.BytesIO()
    Image.new("CMYK", (1400, 1000), (0, 255, 255, 0)).save(buffer, "JPEG")  # red in CMYK
    result = image_ingest(upload(buffer.getvalue()))
    img = opened(result.content)
    assert img.mode == "RGB"
    red, green, blue = img.getpixel((10, 10))
    assert red > 200
    assert green < 60
    assert blue < 60


def test_16_bit_png_is_scaled_not_clipped():
    gradient = Image.linear_gradient("L").resize((1200, 1200)).convert("I").point(lambda v: v * 257)
    buffer = io.BytesIO()
    gradient.convert("I;16").save(buffer, "PNG")
    result = image_ingest(upload(buffer.getvalue(), "scan.png"))
    img = opened(result.content)
    assert result.format == "PNG"
    assert img.mode == "L"
    low, high = img.getextrema()
    assert low < 10
    assert high > 245


def test_animated_gif_keeps_the_first_frame_with_a_warning():
    frames = [Image.new("P", (1200, 800), color) for color in (1, 2, 3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    result = image_ingest(upload(buffer.getvalue(), "anim.gif"))
    assert result.format == "PNG"
    assert any("first frame" in w for w in result.warnings)
    assert getattr(opened(result.content), "n_frames", 1) == 1


def test_small_image_is_accepted_with_a_warning():
    result = image_ingest(upload(make_photo(640, 480)))
    assert (result.width, result.height) == (640, 480)
    assert len(result.warnings) == 1
    assert "640×480" in result.warnings[0]


def test_transparent_png_stays_png_with_alpha():
    img = Image.new("RGBA", (1200, 1200), (0, 0, 255, 0))
    img.paste((255, 0, 0, 255), (300, 300, 900, 900))
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    result = image_ingest(upload(buffer.getvalue(), "logo.png"))
    assert result.format == "PNG"
    assert opened(result.content).mode == "RGBA"


def test_webp_photo_becomes_jpeg():
    result = image_ingest(upload(make_photo(1400, 1000, fmt="WEBP"), "p.webp"))
    assert result.format == "JPEG"


# --- attachment service: nothing left behind ---------------------------------------------


def stored_files(settings) -> set[Path]:
    root = Path(settings.MEDIA_ROOT) / "attachments"
    return set(root.rglob("*")) if root.exists() else set()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: make_photo()[:5000], id="truncated"),
        pytest.param(lambda: b"not an image at all", id="text"),
        pytest.param(
            lambda: (lambda b: (Image.new("1", (10_000, 6_000)).save(b, "PNG"), b.getvalue())[1])(io.BytesIO()),
            id="bomb",
        ),
    ],
)
def test_refused_upload_stores_nothing(author, settings, data):
    message = make_message(author=author)
    before = stored_files(settings)
    with pytest.raises(ValidationError):
        attachment_add(message=message, actor=author, file=upload(data()), alt_fr="x", alt_nl="y")
    assert stored_files(settings) == before
    assert not Attachment.objects.filter(message=message).exists()


def test_attachment_add_stores_by_hash_and_audits(author, settings):
    message = make_message(author=author)
    before_hash = message.content_hash

    attachment = attachment_add(
        message=message, actor=author, file=upload(exif_photo_with_gps()), alt_fr="Carte", alt_nl="Kaart"
    )

    assert attachment.image.name == f"attachments/{attachment.sha256[:2]}/{attachment.sha256}.jpeg"
    assert Path(attachment.image.path).read_bytes()[:2] == b"\xff\xd8"
    assert (attachment.width, attachment.height) == (1200, 1600)
    message.refresh_from_db()
    assert message.content_hash != before_hash
    assert message.attachments.count() == 1
    assert {e.verb for e in message_events(message)} >= {"attachment.added", "message.edited"}


def test_same_image_twice_is_stored_once(author, settings):
    first = attachment_add(
        message=make_message(author=author), actor=author, file=upload(make_photo()), alt_fr="a", alt_nl="b"
    )
    second = attachment_add(
        message=make_message(author=author), actor=author, file=upload(make_photo()), alt_fr="a", alt_nl="b"
    )
    assert first.image.name == second.image.name


def message_events(message):
    from publisher.models import AuditEvent

    return AuditEvent.objects.filter(object_type="message", object_id=str(message.pk))


# --- renditions ------------------------------------------------------------------------------


@pytest.fixture
def photo_path(tmp_path):
    path = tmp_path / ("a" * 64 + ".jpeg")
    path.write_bytes(image_ingest(upload(make_photo(4000, 3000))).content)
    return path


def test_rendition_fits_bytes_and_side_and_is_cached(photo_path):
    spec = RenditionSpec(formats=("JPEG",), max_bytes=300_000, max_side=2000)
    first = rendition_for(photo_path, spec, kind="bluesky")
    assert first.size <= 300_000
    assert max(first.width, first.height) == 2000
    mtime = first.path.stat().st_mtime_ns

    again = rendition_for(photo_path, spec, kind="bluesky")

    assert again.path == first.path
    assert again.path.stat().st_mtime_ns == mtime


def test_rendition_pads_to_the_aspect_ratio_without_cropping(tmp_path):
    path = tmp_path / "tall.png"
    Image.new("RGB", (500, 2000), (10, 20, 30)).save(path, "PNG")
    spec = RenditionSpec(formats=("JPEG",), aspect_min=0.8, aspect_max=1.91, max_side=1440)
    rendition = rendition_for(path, spec, kind="instagram")
    assert rendition.format == "JPEG"
    assert abs(rendition.width / rendition.height - 0.8) < 0.01
    assert rendition.height == 1440


def test_rendition_fits_telegram_sum_of_sides(tmp_path):
    path = tmp_path / "banner.png"
    Image.new("RGB", (9500, 1000), "white").save(path, "PNG")
    rendition = rendition_for(path, RenditionSpec(formats=("JPEG",), max_sides_sum=10_000), kind="telegram")
    assert rendition.width + rendition.height <= 10_000


def test_png_logo_stays_png_where_allowed(tmp_path):
    path = tmp_path / "logo.png"
    Image.new("RGBA", (800, 800), (255, 0, 0, 128)).save(path, "PNG")
    assert rendition_for(path, RenditionSpec(formats=("JPEG", "PNG")), kind="mastodon").format == "PNG"
    jpeg = rendition_for(path, RenditionSpec(formats=("JPEG",)), kind="instagram")
    assert jpeg.format == "JPEG"
    assert opened(jpeg.read()).mode == "RGB"


def test_remove_deletes_the_file_once_unused(author, settings, django_capture_on_commit_callbacks):
    from publisher.workflow.attachments import attachment_remove

    message = make_message(author=author)
    attachment = attachment_add(message=message, actor=author, file=upload(make_photo()), alt_fr="a", alt_nl="b")
    path = Path(attachment.image.path)
    with django_capture_on_commit_callbacks(execute=True):
        attachment_remove(attachment=attachment, actor=author)
    assert not path.exists()
    assert not Attachment.objects.filter(message=message).exists()


def test_alt_update_voids_the_content_hash(author):
    from publisher.workflow.attachments import attachment_alt_update

    message = make_message(author=author)
    attachment = attachment_add(message=message, actor=author, file=upload(make_photo()), alt_fr="a", alt_nl="b")
    message.refresh_from_db()
    before = message.content_hash
    attachment_alt_update(attachment=attachment, actor=author, alt_nl="Een kaart van Brussel")
    message.refresh_from_db()
    assert message.content_hash != before
    attachment.refresh_from_db()
    assert (attachment.alt_fr, attachment.alt_nl) == ("a", "Een kaart van Brussel")


def test_small_upload_warnings_reach_the_caller(author):
    attachment = attachment_add(message=make_message(author=author), actor=author, file=upload(make_photo(400, 300)))
    assert attachment.ingest_warnings
    assert "400×300" in attachment.ingest_warnings[0]
