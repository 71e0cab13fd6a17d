"""The project's URLs plus the uploaded media, for browser tests that show images
(config/urls.py serves media only with DEBUG on)."""

from django.conf import settings
from django.urls import re_path
from django.views.static import serve

from config.urls import handler404
from config.urls import urlpatterns as project_urlpatterns

urlpatterns = [
    *project_urlpatterns,
    re_path(r"^media/(?P<path>.*)$", serve, {"document_root": settings.MEDIA_ROOT}),
]

__all__ = ["handler404", "urlpatterns"]
