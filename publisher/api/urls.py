from typing import Any

from django.urls import include, path
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from publisher.api import views

app_name = "api"


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
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
]
