from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from publisher import health, metrics_view

urlpatterns = [
    # Probes and metrics: no login, no redirect (see publisher/health.py, publisher/metrics_view.py).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics_view.metrics_view, name="metrics"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # Before the admin's own URLs: the second-factor pages sit inside the admin's path.
    path("admin/second-factor/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    # Public feeds (Atom per language, CAP) and the image renditions networks fetch.
    path("", include("publisher.feeds.urls")),
    path("api/", include("publisher.api.urls")),
]

# Under /api/ an unmatched URL is a problem+json 404 like the API's own; elsewhere Django's page.
handler404 = "publisher.api.exceptions.not_found"

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
