"""The second-factor pages of the admin, and the sign-in lockout page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django_otp import login as otp_login
from django_otp.plugins.otp_static.models import StaticDevice

from accounts.forms import SecondFactorCodeForm, SecondFactorEnrolForm
from accounts.models import User
from accounts.second_factor import (
    Step,
    recovery_codes_left,
    second_factor_check,
    second_factor_device,
    second_factor_enrol,
    second_factor_enrolment_device,
    second_factor_recovery_codes_regenerate,
    second_factor_remove,
    second_factor_required,
    second_factor_step,
    totp_qr_svg,
    totp_secret_text,
)


def _staff(request: HttpRequest) -> User | None:
    user = request.user
    if user.is_authenticated and user.is_active and user.is_staff:
        return user
    return None


def _next_url(request: HttpRequest) -> str:
    candidate = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME) or ""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("admin:index")


def _to_login(request: HttpRequest) -> HttpResponseRedirect:
    return redirect(f"{reverse('admin:login')}?{REDIRECT_FIELD_NAME}={reverse('admin:index')}")


def _context(request: HttpRequest, *, title: str, pending: bool, **extra: Any) -> dict[str, Any]:
    context = {**admin.site.each_context(request), "title": title, **extra}
    if pending:
        # Nothing of the admin is reachable yet: no navigation towards it.
        context.update(available_apps=[], is_nav_sidebar_enabled=False)
    context["next"] = _next_url(request)
    return context


def _no_store(response: HttpResponse) -> HttpResponse:
    # These pages carry a secret (the TOTP key, recovery codes): no cache may keep them.
    response["Cache-Control"] = "no-store"
    return response


@sensitive_post_parameters("code")
@never_cache
def verify_page(request: HttpRequest) -> HttpResponse:
    """The second step of signing in: a TOTP code or a recovery code."""
    user = _staff(request)
    if user is None:
        return _to_login(request)
    if second_factor_step(user) != Step.VERIFY:
        return redirect(_next_url(request))
    form = SecondFactorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor_check(user=user, code=form.cleaned_data["code"])
        except ValidationError as exc:
            form.add_error("code", exc.messages)
        else:
            if device is None:
                form.add_error("code", _("This code is not valid. Check your authenticator app's clock and try again."))
            else:
                request.session.cycle_key()
                otp_login(request, device)
                if isinstance(device, StaticDevice):
                    messages.warning(
                        request,
                        _("You used a recovery code; %(count)d left. Create new ones on your second-factor page.")
                        % {"count": recovery_codes_left(user)},
                    )
                return redirect(_next_url(request))
    context = _context(request, title=_("Second factor"), pending=True, form=form)
    return render(request, "accounts/second_factor/verify.html", context)


@sensitive_post_parameters("code", "current_code")
@never_cache
def enrol_page(request: HttpRequest) -> HttpResponse:
    """Set up (or replace) a TOTP app: QR code and secret, confirmed by a code; then the recovery codes."""
    user = _staff(request)
    if user is None:
        return _to_login(request)
    step = second_factor_step(user)
    if step == Step.VERIFY:
        return redirect(reverse("accounts:second_factor_verify"))
    replacing = second_factor_device(user) is not None
    device = second_factor_enrolment_device(user)
    form = SecondFactorEnrolForm(request.POST or None, replacing=replacing)
    if request.method == "POST" and form.is_valid():
        try:
            codes = second_factor_enrol(
                user=user,
                device=device,
                code=form.cleaned_data["code"],
                current_code=form.cleaned_data.get("current_code", ""),
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            request.session.cycle_key()
            otp_login(request, device)
            context = _context(request, title=_("Your recovery codes"), pending=False, codes=codes)
            return _no_store(render(request, "accounts/second_factor/recovery_codes.html", context))
    context = _context(
        request,
        title=_("Set up a second factor"),
        pending=step == Step.ENROL,
        form=form,
        required=step == Step.ENROL,
        replacing=replacing,
        # Generated here from our own data, never from input: safe to inline.
        qr_svg=mark_safe(totp_qr_svg(device)),  # noqa: S308
        secret=totp_secret_text(device),
        issuer=settings.OTP_TOTP_ISSUER,
    )
    return _no_store(render(request, "accounts/second_factor/enrol.html", context))


@sensitive_post_parameters("regenerate-code", "remove-code")
@never_cache
def manage_page(request: HttpRequest) -> HttpResponse:
    """Your second factor: status, new recovery codes, removal."""
    user = _staff(request)
    if user is None:
        return _to_login(request)
    device = second_factor_device(user)
    action = request.POST.get("action")
    regenerate = SecondFactorCodeForm(request.POST if action == "regenerate" else None, prefix="regenerate")
    remove = SecondFactorCodeForm(request.POST if action == "remove" else None, prefix="remove")
    if request.method == "POST" and device is not None:
        form = regenerate if action == "regenerate" else remove
        if form.is_valid():
            try:
                if form is regenerate:
                    codes = second_factor_recovery_codes_regenerate(user=user, code=form.cleaned_data["code"])
                    context = _context(request, title=_("Your recovery codes"), pending=False, codes=codes)
                    return _no_store(render(request, "accounts/second_factor/recovery_codes.html", context))
                second_factor_remove(user=user, code=form.cleaned_data["code"])
            except ValidationError as exc:
                form.add_error("code", exc.message_dict.get("code", exc.messages))
            else:
                messages.success(request, _("Your second factor was removed."))
                return redirect(reverse("accounts:second_factor"))
    context = _context(
        request,
        title=_("Second factor"),
        pending=False,
        device=device,
        codes_left=recovery_codes_left(user) if device else 0,
        required=second_factor_required(user),
        regenerate_form=regenerate,
        remove_form=remove,
    )
    return render(request, "accounts/second_factor/manage.html", context)


def login_lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """django-axes' answer to a refused sign-in (AXES_LOCKOUT_CALLABLE): a page that says why and for how long."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        **admin.site.each_context(request),
        "title": _("Sign-in blocked"),
        "minutes": minutes,
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "login_url": reverse("admin:login"),
    }
    response = render(request, "accounts/lockout.html", context, status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response
