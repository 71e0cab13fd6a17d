from typing import Any

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from publisher.api import views

app_name = "api"

SCHEMA_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": (
        "Bilingual scheduled publishing and urgent alerts. Authenticate with `Authorization: Bearer <token>`. "
        "Every POST accepts an `Idempotency-Key`. Errors are RFC 9457 problem details in the language of "
        "`Accept-Language` (en, fr, nl)."
    ),
    "VERSION": "1.0.0",
    # Upload fields become binary in requests, and read-only fields leave the request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "MessageStateEnum": "publisher.models.MessageState",
        "DeliveryStateEnum": "publisher.models.DeliveryState",
        "MessageUrgencyEnum": "publisher.models.Urgency",
        "CapUrgencyEnum": "publisher.api.serializers.CAP_URGENCIES",
        "LanguageEnum": "publisher.models.Language",
    },
}


class SchemaView(SpectacularAPIView):
    # The contract describes the API, not the endpoint that serves it.
    @extend_schema(exclude=True)
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


router = DefaultRouter()
router.register("municipalities", views.MunicipalityViewSet, basename="municipality")
router.register("segments", views.SegmentViewSet, basename="segment")
router.register("channels", views.ChannelViewSet, basename="channel")
router.register("messages", views.MessageViewSet, basename="message")
router.register("alerts", views.AlertViewSet, basename="alert")

urlpatterns = [
    path("v1/alerts/<int:pk>/cap.xml", views.AlertCapView.as_view(), name="alert-cap"),
    path("v1/", include(router.urls)),
    path("schema/", SchemaView.as_view(custom_settings=SCHEMA_SETTINGS), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
