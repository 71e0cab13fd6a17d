from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation


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
