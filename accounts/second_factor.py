"""Second factor for staff: a TOTP app (django-otp) and one-time recovery codes.

Recovery codes live in django-otp's static device, one StaticToken per code. django-otp keeps
those tokens as given and compares them as given, so Tandem hands it a digest of each code,
never the code: the plaintext exists once, in the return value that the page shows. A code
is used up when it is accepted (django-otp deletes the token).

Checking a code goes through django-otp's own verification, which throttles a device after a
wrong code (1, 2, 4, 8 … seconds) and refuses a TOTP code that was already accepted once.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import secrets

import qrcode
import qrcode.image.svg
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import verify_token
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.audit import account_audit
from accounts.models import User

# Who must use a second factor when TANDEM_REQUIRE_2FA is on: whoever can approve, administer
# channels, users or tokens. Holding a live API token counts too (see second_factor_required).
PRIVILEGED_PERMISSIONS = (
    "publisher.approve_message",
    "publisher.change_channel",
    "accounts.change_user",
    "accounts.add_apitoken",
)
RECOVERY_CODE_BYTES = 10  # 80 bits, 16 base32 characters
TOTP_NAME = "TOTP"
RECOVERY_NAME = "Recovery codes"
_SEPARATORS = re.compile(r"[\s-]+")


class Step:
    """What a signed-in person still owes before the rest of the admin opens."""

    NONE = ""
    VERIFY = "verify"  # has a second factor, has not given a code in this session
    ENROL = "enrol"  # must have one and has none yet


# --- Selectors -----------------------------------------------------------------------------


def second_factor_required(user: User) -> bool:
    """Whether this user may not work without a second factor (never when TANDEM_REQUIRE_2FA is off)."""
    if not settings.TANDEM_REQUIRE_2FA or not user.is_active:
        return False
    if user.is_superuser or any(user.has_perm(perm) for perm in PRIVILEGED_PERMISSIONS):
        return True
    return user.api_tokens.filter(revoked_at__isnull=True).exists()


def second_factor_device(user: User) -> TOTPDevice | None:
    """The user's confirmed TOTP device, if they have enrolled."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("-pk").first()


def second_factor_step(user: User) -> str:
    """The step this signed-in user still owes in this session (a Step value); needs OTPMiddleware."""
    is_verified = getattr(user, "is_verified", None)
    if is_verified is not None and is_verified():
        return Step.NONE
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return Step.VERIFY
    if second_factor_required(user):
        return Step.ENROL
    return Step.NONE


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def totp_secret_text(device: TOTPDevice) -> str:
    """The secret as an authenticator app takes it when typed: base32, in groups of four."""
    secret = base64.b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def totp_qr_svg(device: TOTPDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code: no image request, no network, works offline."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    svg: str = image.to_string(encoding="unicode")
    return svg


# --- Codes ---------------------------------------------------------------------------------


def _recovery_digest(code: str) -> str:
    # 16 characters: what django-otp's StaticToken.token holds. The codes carry 80 random bits,
    # so an unsalted digest of them cannot be reversed by guessing.
    return base64.b32encode(hashlib.sha256(code.encode()).digest()[:10]).decode().lower()


def _normalise(code: str) -> str:
    return _SEPARATORS.sub("", code or "").lower()


def _throttled(device: Device) -> None:
    allowed, data = device.verify_is_allowed()
    if not allowed:
        until = (data or {}).get("locked_until")
        seconds = max(1, math.ceil((until - timezone.now()).total_seconds())) if until else 1
        raise ValidationError(
            _("Too many wrong codes. Wait %(seconds)d seconds and try again.") % {"seconds": seconds},
            code="throttled",
        )


def second_factor_check(*, user: User, code: str) -> Device | None:
    """The device that accepts `code` (a TOTP code, or an unused recovery code, then used up), or None.

    Raises ValidationError while the device is throttled after wrong codes.
    """
    code = _normalise(code)
    if not code:
        return None
    if code.isdigit():
        totp = second_factor_device(user)
        if totp is None:
            return None
        _throttled(totp)
        verified: Device | None = verify_token(user, totp.persistent_id, code)
        return verified
    static = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if static is None or second_factor_device(user) is None:
        return None
    _throttled(static)
    verified = verify_token(user, static.persistent_id, _recovery_digest(code))
    return verified


def _wrong_code(field: str) -> ValidationError:
    return ValidationError({field: _("This code is not valid. Check your authenticator app's clock and try again.")})


def _check_or_refuse(*, user: User, code: str, field: str) -> Device:
    try:
        device = second_factor_check(user=user, code=code)
    except ValidationError as exc:
        raise ValidationError({field: exc.messages}) from exc
    if device is None:
        raise _wrong_code(field)
    return device


def _recovery_codes_issue(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [
        base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
        for _ in range(settings.TANDEM_RECOVERY_CODES)
    ]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=_recovery_digest(code)) for code in codes])
    return ["-".join(code[i : i + 4] for i in range(0, len(code), 4)) for code in codes]


# --- Services ------------------------------------------------------------------------------


def second_factor_enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed TOTP device being set up (the same one until confirmed, so a reload keeps the QR code)."""
    with transaction.atomic():
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def second_factor_enrol(*, user: User, device: TOTPDevice, code: str, current_code: str = "") -> list[str]:
    """Confirm a new TOTP device with a code from it; replaces any earlier one (which needs its own
    code, or a recovery code). Returns the new recovery codes, the only time they exist in clear."""
    if device.user_id != user.pk or device.confirmed:
        raise ValidationError({"code": _("This set-up has expired. Start again.")})
    previous = second_factor_device(user)
    if previous is not None:
        # Whoever replaces a second factor proves they hold the current one.
        _check_or_refuse(user=user, code=current_code, field="current_code")
    # Checked outside the write transaction: a wrong code's throttling must stay recorded.
    if not _normalise(code).isdigit() or verify_token(user, device.persistent_id, _normalise(code)) is None:
        raise _wrong_code("code")
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        TOTPDevice.objects.filter(pk=device.pk).update(confirmed=True)
        device.confirmed = True
        codes = _recovery_codes_issue(user)
        account_audit(
            actor=user,
            verb="second_factor.enrolled",
            obj=user,
            summary={"user": user.get_username(), "replaced": previous is not None},
        )
    return codes


def second_factor_recovery_codes_regenerate(*, user: User, code: str) -> list[str]:
    """New recovery codes (the old ones stop working), given a current code."""
    _check_or_refuse(user=user, code=code, field="code")
    with transaction.atomic():
        codes = _recovery_codes_issue(user)
        account_audit(
            actor=user,
            verb="second_factor.recovery_codes_regenerated",
            obj=user,
            summary={"user": user.get_username()},
        )
    return codes


def second_factor_remove(*, user: User, code: str) -> None:
    """Remove one's own second factor, given a current code."""
    _check_or_refuse(user=user, code=code, field="code")
    with transaction.atomic():
        _devices_delete(user)
        account_audit(actor=user, verb="second_factor.removed", obj=user, summary={"user": user.get_username()})


def second_factor_reset(*, user: User, actor: User) -> bool:
    """An administrator removes someone else's second factor (lost phone and codes). Audited.

    Returns whether the user had one. The user's sessions lose their verification at once.
    """
    if actor.pk == user.pk:
        raise ValidationError(_("Remove your own second factor from your second-factor page, with a code."))
    with transaction.atomic():
        had_one = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        _devices_delete(user)
        account_audit(
            actor=actor,
            verb="second_factor.reset",
            obj=user,
            summary={"user": user.get_username(), "had_second_factor": had_one},
        )
    return had_one


def _devices_delete(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
