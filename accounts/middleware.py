from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation

from accounts.second_factor import Step, second_factor_step


class PreferredLanguageMiddleware:
    """Activate a signed-in user's preferred language, overriding Accept-Language."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        language = getattr(user, "preferred_language", "") if user and user.is_authenticated else ""
        if not language:
            return self.get_response(request)
        request.LANGUAGE_CODE = language
        # override() restores the previous language afterwards, so nothing leaks to the thread.
        with translation.override(language):
            response = self.get_response(request)
        response.headers["Content-Language"] = language
        return response


class SecondFactorMiddleware:
    """Hold a password-only session at the second-factor step until it is done.

    After django-otp's OTPMiddleware. A signed-in user who has a second factor and has not given
    a code in this session, or who must have one and has none yet, reaches only the step's pages
    and logout: other admin pages redirect there, and everywhere else (the API's session
    authentication included) the request is anonymous.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            step = second_factor_step(user)
            if step:
                response = self._hold(request, step)
                if response is not None:
                    return response
        return self.get_response(request)

    def _hold(self, request: HttpRequest, step: str) -> HttpResponse | None:
        path = request.path_info
        step_url = reverse("accounts:second_factor_verify" if step == Step.VERIFY else "accounts:second_factor_enrol")
        if path == step_url or path == reverse("admin:logout"):
            return None
        if path.startswith(reverse("admin:index")):
            if request.method == "GET" and path != reverse("admin:index"):
                return redirect(f"{step_url}?{urlencode({REDIRECT_FIELD_NAME: request.get_full_path()})}")
            return redirect(step_url)
        anonymous = AnonymousUser()
        request.user = anonymous

        async def auser() -> AnonymousUser:
            return anonymous

        request.auser = auser
        return None
