"""API v1 endpoints. Each view checks shape and scope, then calls one service or selector."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation.trans_real import parse_accept_lang_header
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import exceptions, generics, mixins, parsers, renderers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from accounts.models import ApiScope, ApiToken, User
from accounts.tokens import TokenArea, api_token_area, audience_outside_area
from publisher.api import selectors as api_selectors
from publisher.api import serializers as s
from publisher.api.audience import explain_missing_languages
from publisher.api.authentication import BearerTokenAuthentication
from publisher.api.exceptions import problem_exception_handler
from publisher.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from publisher.api.idempotency import KEY_PATTERN as IDEMPOTENCY_KEY_PATTERN
from publisher.api.idempotency import idempotent_call, request_fingerprint
from publisher.api.parsers import BoundedJSONParser
from publisher.api.permissions import HasScope, check_retract
from publisher.api.schedule import schedule_fields
from publisher.api.schema import ScopedAutoSchema
from publisher.api.throttling import TokenRateThrottle
from publisher.delivery import selectors as delivery_selectors
from publisher.errors import NotAllowed
from publisher.feeds.syndication import cap_document
from publisher.mail import subject_line
from publisher.models import Channel, Message, MessageKind, MessageState, Municipality, Segment, Urgency
from publisher.pagination import ESTIMATE_FROM_ROWS, table_count
from publisher.territory import selectors
from publisher.workflow import alerts, catalogue, retraction, services
from publisher.workflow.attachments import attachment_add
from publisher.workflow.language_confirmations import attachment_language_confirm, variant_language_confirm
from publisher.workflow.services import Audience

READ = (ApiScope.READ.value,)
COMPOSE = (ApiScope.COMPOSE.value,)
APPROVE = (ApiScope.APPROVE.value,)
ALERT = (ApiScope.ALERT.value,)
ADMIN = (ApiScope.ADMIN.value,)

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    IDEMPOTENCY_HEADER,
    {"type": "string", "pattern": f"^{IDEMPOTENCY_KEY_PATTERN.pattern}$"},
    OpenApiParameter.HEADER,
    required=False,
    description="Retry-safe key (per token, kept 24 h): the same key and body replay the first response; "
    "the same key with another body is a 409.",
)
PROBLEM = OpenApiResponse(OpenApiTypes.OBJECT, description="RFC 9457 problem details (application/problem+json).")
LANGUAGE_REGIONS = ["nl", "fr", "bilingual", "de"]
ERRORS: dict[int | str, Any] = {400: PROBLEM, 401: PROBLEM, 403: PROBLEM, 404: PROBLEM, 409: PROBLEM, 429: PROBLEM}


class TandemPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 200
    # Past this nothing exists; a larger number would only overflow the database's integers.
    max_offset = 10_000_000

    def get_limit(self, request: Request) -> int | None:
        # 0 meant "the default" to DRF: kept.
        limit = _query_int(request, self.limit_query_param, default=self.default_limit) or self.default_limit
        return min(limit, self.max_limit)

    def get_offset(self, request: Request) -> int:
        return min(_query_int(request, self.offset_query_param, default=0), self.max_offset)

    def get_count(self, queryset: Any) -> int:
        # An unfiltered list of a big table takes PostgreSQL's estimate: an exact COUNT(*) reads
        # every row, so a year of history would slow every page (publisher/pagination.py).
        if isinstance(queryset, QuerySet) and not queryset.query.where and not queryset.query.distinct:
            total = table_count(queryset, estimate_from=ESTIMATE_FROM_ROWS)
            if total is not None:
                return total
        return int(super().get_count(queryset))

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any] | None:
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        # One row beyond the page says whether a next page exists: the count may be an estimate.
        rows = list(queryset[self.offset : self.offset + self.limit + 1])
        self.has_next = len(rows) > self.limit
        return rows[: self.limit]

    def get_next_link(self) -> str | None:
        if not self.has_next or self.request is None or self.limit is None or self.offset is None:
            return None
        url = replace_query_param(self.request.build_absolute_uri(), self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        found: dict[str, Any] = super().get_paginated_response_schema(schema)
        found["properties"]["count"]["description"] = (
            f"How many rows the list holds. Exact for a filtered list and below {ESTIMATE_FROM_ROWS:,} rows; "
            "for an unfiltered list of a larger table, PostgreSQL's estimate. Follow `next` to page: "
            "it is null exactly on the last page."
        )
        return found


def _query_int(request: Request, name: str, *, default: int) -> int:
    """A non-negative integer query parameter, given at most once; a 400 naming it otherwise
    (DRF would silently use its default, and the schema says integer)."""
    values = request.query_params.getlist(name)
    if not values:
        return default
    if len(values) > 1 or not values[0].isdigit() or not values[0].isascii():
        raise exceptions.ValidationError({name: [_("Give one whole number, 0 or more.")]})
    return int(values[0]) if len(values[0]) < 19 else 10**18


def _query_choice(request: Request, name: str, choices: list[str] | tuple[str, ...]) -> str:
    """An optional query parameter from a fixed list; a 400 naming it for anything else,
    an empty value included (the schema lists the values: a client sending ``?state=`` has a
    bug worth telling it about)."""
    values = request.query_params.getlist(name)
    if not values:
        return ""
    if len(values) > 1 or values[0] not in choices:
        raise exceptions.ValidationError({name: [_("Use one of: %(choices)s.") % {"choices": ", ".join(choices)}]})
    return values[0]


class TandemAPIView(generics.GenericAPIView[Any]):
    """Authentication, scopes, throttling, problem details, language and idempotency for every endpoint."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [TokenRateThrottle]
    pagination_class = TandemPagination
    schema = ScopedAutoSchema()
    required_scopes: dict[str, tuple[str, ...]] = {}

    def get_exception_handler(self) -> Any:
        return problem_exception_handler

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        if isinstance(request.auth, ApiToken):
            # A machine has no preferred language: Accept-Language decides, whatever cookie came along.
            translation.activate(_accept_language(request))

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        # DRF's dispatch, with the handler wrapped in the idempotency record's transaction.
        view: Any = self
        view.args, view.kwargs = args, kwargs
        request = view.initialize_request(request, *args, **kwargs)
        view.request = request
        view.headers = view.default_response_headers
        try:
            view.initial(request, *args, **kwargs)
            method = (request.method or "").lower()
            handler = getattr(view, method, view.http_method_not_allowed)
            if method not in view.http_method_names:
                handler = view.http_method_not_allowed
            key = request.headers.get(IDEMPOTENCY_HEADER)
            if method == "post" and key is not None and isinstance(request.auth, ApiToken):
                response = idempotent_call(
                    token=request.auth,
                    key=key.strip(),
                    fingerprint=request_fingerprint(request),
                    run=lambda: view.finalize_response(request, handler(request, *args, **kwargs), *args, **kwargs),
                )
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - DRF's own contract: every exception becomes a response
            response = view.handle_exception(exc)
        view.response = view.finalize_response(request, response, *args, **kwargs)
        return view.response

    # --- helpers shared by the endpoints -------------------------------------------------

    @property
    def actor(self) -> User:
        user: User = self.request.user  # type: ignore[assignment]
        return user

    @property
    def token(self) -> ApiToken | None:
        return self.request.auth if isinstance(self.request.auth, ApiToken) else None

    @property
    def area(self) -> TokenArea:
        return api_token_area(self.token)

    def check_area(self, audience: Audience) -> None:
        outside = audience_outside_area(area=self.area, audience=audience)
        if outside:
            raise NotAllowed(
                _("This token may not target %(codes)s: it is limited to its own municipalities or zones.")
                % {"codes": _("all of Belgium") if outside == ["*"] else ", ".join(outside[:10])}
            )


class TandemViewSet(viewsets.ViewSetMixin, TandemAPIView):
    pass


def _accept_language(request: Request) -> str:
    for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
        if code == "*":
            break
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return "en"


# --- Reference data --------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("q", str, description="Names in any language, postal code or NIS code."),
            OpenApiParameter("zone", str, description="Police zone code."),
            OpenApiParameter("province", str, description="Province NIS code or name."),
            OpenApiParameter("language_region", str, enum=LANGUAGE_REGIONS),
        ],
        responses={200: s.MunicipalitySerializer(many=True), **ERRORS},
    ),
    retrieve=extend_schema(responses={200: s.MunicipalitySerializer, **ERRORS}),
)
class MunicipalityViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TandemViewSet):
    serializer_class = s.MunicipalitySerializer
    lookup_field = "nis_code"
    lookup_value_regex = "[0-9]{5}"
    required_scopes = {"*": READ}

    def get_queryset(self) -> QuerySet[Municipality]:
        params = self.request.query_params
        return selectors.municipality_list(
            q=params.get("q", "")[:100],
            zone=params.get("zone", "")[:4],
            province=params.get("province", "")[:100],
            language_region=_query_choice(self.request, "language_region", LANGUAGE_REGIONS),
        )


@extend_schema_view(
    list=extend_schema(responses={200: s.SegmentSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: s.SegmentSerializer, **ERRORS}),
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER], responses={201: s.SegmentSerializer, **ERRORS}),
)
class SegmentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    TandemViewSet,
):
    serializer_class = s.SegmentSerializer
    lookup_value_regex = "[0-9]{1,18}"
    required_scopes = {"list": READ, "retrieve": READ, "create": COMPOSE}

    def get_queryset(self) -> QuerySet[Segment]:
        return api_selectors.segment_list()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.SegmentSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        self.check_area(Audience(municipalities=data["municipalities"]))
        segment = catalogue.segment_create(
            actor=self.actor, name_fr=data["name_fr"], name_nl=data["name_nl"], municipalities=data["municipalities"]
        )
        return Response(s.SegmentSerializer(segment).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=extend_schema(responses={200: s.ChannelSerializer(many=True), **ERRORS}),
    retrieve=extend_schema(responses={200: s.ChannelSerializer, **ERRORS}),
    create=extend_schema(parameters=[IDEMPOTENCY_PARAMETER], responses={201: s.ChannelSerializer, **ERRORS}),
    partial_update=extend_schema(responses={200: s.ChannelSerializer, **ERRORS}),
)
class ChannelViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    TandemViewSet,
):
    serializer_class = s.ChannelSerializer
    lookup_value_regex = "[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_scopes = {"*": ADMIN}

    def get_queryset(self) -> QuerySet[Channel]:
        return api_selectors.channel_list()

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.ChannelSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        channel = catalogue.channel_create(actor=self.actor, **serializer.validated_data)
        return Response(s.ChannelSerializer(channel).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        channel = self.get_object()
        serializer = s.ChannelSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        channel = catalogue.channel_update(channel=channel, actor=self.actor, **serializer.validated_data)
        return Response(s.ChannelSerializer(channel).data)


# --- Messages --------------------------------------------------------------------------------


def _default_title(variants: dict[str, Any]) -> str:
    for value in variants.values():
        text = subject_line(value.text)
        if text:
            return text[:80]
    return _("Message from the API")


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=MessageState.values),
            OpenApiParameter("urgency", str, enum=Urgency.values),
            OpenApiParameter("kind", str, enum=MessageKind.values),
        ],
        responses={200: s.MessageSerializer(many=True), **ERRORS},
    ),
    retrieve=extend_schema(responses={200: s.MessageDetailSerializer, **ERRORS}),
    create=extend_schema(
        request=s.MessageWriteSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.MessageDetailSerializer, **ERRORS},
    ),
    partial_update=extend_schema(
        request=s.MessagePatchSerializer, responses={200: s.MessageDetailSerializer, **ERRORS}
    ),
)
class MessageViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    TandemViewSet,
):
    serializer_class = s.MessageSerializer
    lookup_value_regex = "[0-9]{1,18}"
    http_method_names = ["get", "post", "patch", "head", "options"]
    required_scopes = {
        "list": READ,
        "retrieve": READ,
        "deliveries": READ,
        "create": COMPOSE,
        "partial_update": COMPOSE,
        "submit": COMPOSE,
        "attachments": COMPOSE,
        "language_confirmations": COMPOSE,
        "cancel": (*COMPOSE, *APPROVE),
        "approve": APPROVE,
        "reject": APPROVE,
        "retract": (*APPROVE, *ALERT),
    }

    def get_queryset(self) -> QuerySet[Message]:
        listing = self.action == "list"
        return api_selectors.message_list(
            area=self.area,
            state=_query_choice(self.request, "state", MessageState.values) if listing else "",
            urgency=_query_choice(self.request, "urgency", Urgency.values) if listing else "",
            kind=_query_choice(self.request, "kind", MessageKind.values) if listing else "",
        )

    def get_serializer_class(self) -> Any:
        return s.MessageSerializer if self.action == "list" else s.MessageDetailSerializer

    def detail_response(self, message: Message, code: int = status.HTTP_200_OK) -> Response:
        message = self.get_queryset().get(pk=message.pk)
        message.languages = api_selectors.message_languages(message)  # type: ignore[attr-defined]
        return Response(s.MessageDetailSerializer(message, context={"request": self.request}).data, status=code)

    def writable_message(self) -> Message:
        """The message, if this caller may change it: a limited token only within its area."""
        message: Message = self.get_object()
        self.check_area(s.audience_from(s.audience_data(message)))
        return message

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.detail_response(self.get_object())

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = s.MessageWriteSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        schedule = schedule_fields(
            publish_at=data.get("publish_at"),
            recurrence=data.get("recurrence"),
            urgent=data["urgency"] == Urgency.URGENT,
        )
        audience = s.audience_from(data["audience"])
        self.check_area(audience)
        variants = s.variants_from(data["variants"])
        message = services.message_create(
            author=self.actor,
            title=data.get("title") or _default_title(variants),
            variants=variants,
            audience=audience,
            urgency=data["urgency"],
            status=data["status"],
            schedule=schedule,
        )
        return self.detail_response(message, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        message = self.writable_message()
        serializer = s.MessagePatchSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        urgency = data.get("urgency", message.urgency)
        schedule = schedule_fields(
            publish_at=data.get("publish_at"), recurrence=data.get("recurrence"), urgent=urgency == Urgency.URGENT
        )
        audience = s.audience_from(data["audience"]) if "audience" in data else None
        if audience is not None:
            self.check_area(audience)
        message = services.message_update(
            message=message,
            actor=self.actor,
            title=data.get("title"),
            variants=s.variants_from(data["variants"]) if "variants" in data else None,
            audience=audience,
            urgency=data.get("urgency"),
            status=data.get("status"),
            schedule=schedule if "publish_at" in data or "recurrence" in data else None,
        )
        return self.detail_response(message)

    @extend_schema(
        request=None, parameters=[IDEMPOTENCY_PARAMETER], responses={200: s.MessageDetailSerializer, **ERRORS}
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None) -> Response:
        """Send a draft to the approvers; refused while a required language, alt text or channel limit is missing."""
        message = services.message_submit(message=self.writable_message(), actor=self.actor)
        return self.detail_response(message)

    @extend_schema(
        request=s.ApproveSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: s.MessageDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request: Request, pk: str | None = None) -> Response:
        """Approve a submitted message (never your own) and schedule it; `checklist` records what was checked."""
        serializer = s.ApproveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_approve(
            message=self.writable_message(),
            actor=self.actor,
            comment=serializer.validated_data["comment"],
            checklist=serializer.validated_data["checklist"],
        )
        return self.detail_response(message)

    @extend_schema(
        request=s.RejectSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: s.MessageDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def reject(self, request: Request, pk: str | None = None) -> Response:
        serializer = s.RejectSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_reject(
            message=self.writable_message(), actor=self.actor, comment=serializer.validated_data["comment"]
        )
        return self.detail_response(message)

    @extend_schema(
        request=s.ReasonSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: s.MessageDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        serializer = s.ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = services.message_cancel(
            message=self.writable_message(), actor=self.actor, reason=serializer.validated_data["reason"]
        )
        return self.detail_response(message)

    @extend_schema(
        request=s.ReasonSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={200: s.MessageDetailSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def retract(self, request: Request, pk: str | None = None) -> Response:
        serializer = s.ReasonSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = self.writable_message()
        check_retract(request, message)
        # Remote posts are deleted by a task after commit; the deliveries record where it failed.
        message = retraction.message_retract(
            message=message, actor=self.actor, reason=serializer.validated_data["reason"]
        )
        return self.detail_response(message)

    @extend_schema(responses={200: s.DeliverySerializer(many=True), **ERRORS})
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk: str | None = None) -> Response:
        """Where the message went: one row per channel and occurrence, with state and remote URL."""
        message = self.get_object()
        page = self.paginate_queryset(delivery_selectors.message_deliveries(message))
        return self.get_paginated_response(s.DeliverySerializer(page, many=True).data)

    @extend_schema(
        request={"multipart/form-data": s.AttachmentUploadSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.AttachmentSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], parser_classes=[parsers.MultiPartParser, parsers.FormParser])
    def attachments(self, request: Request, pk: str | None = None) -> Response:
        message = self.writable_message()
        serializer = s.AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        attachment = attachment_add(
            message=message,
            actor=self.actor,
            file=data["image"],
            alt_fr=data["alt_fr"],
            alt_nl=data["alt_nl"],
            alt_de=data["alt_de"],
            language=data["language"],
        )
        return Response(s.AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=s.LanguageConfirmSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.LanguageConfirmationSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"], url_path="language-confirmations")
    def language_confirmations(self, request: Request, pk: str | None = None) -> Response:
        """Confirm a wrong-language error as a deliberate exception (a quote, a bilingual slogan),
        with a reason; it holds until the text changes. Draft or rejected messages only."""
        message = self.writable_message()
        serializer = s.LanguageConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if data["attachment"] is None:
            confirmation = variant_language_confirm(
                message=message, language=data["language"], reason=data["reason"], actor=self.actor
            )
        else:
            attachment = message.attachments.filter(pk=data["attachment"]).first()
            if attachment is None:
                raise exceptions.ValidationError({"attachment": [_("This message has no such image.")]})
            confirmation = attachment_language_confirm(
                attachment=attachment, language=data["language"], reason=data["reason"], actor=self.actor
            )
        return Response(s.LanguageConfirmationSerializer(confirmation).data, status=status.HTTP_201_CREATED)


# --- Alerts ----------------------------------------------------------------------------------


class CapXMLRenderer(renderers.BaseRenderer):
    media_type = "application/xml"
    format = "xml"
    charset = None

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        if isinstance(data, bytes):
            return data
        # Errors stay problem details even when the client asked for XML.
        return renderers.JSONRenderer().render(data)


@extend_schema_view(
    retrieve=extend_schema(responses={200: s.AlertSerializer, **ERRORS}),
)
class AlertViewSet(mixins.RetrieveModelMixin, TandemViewSet):
    serializer_class = s.AlertSerializer
    lookup_value_regex = "[0-9]{1,18}"
    parser_classes = [BoundedJSONParser, parsers.MultiPartParser, parsers.FormParser]
    required_scopes = {"create": ALERT, "updates": ALERT, "retrieve": READ}

    def get_queryset(self) -> QuerySet[Message]:
        return api_selectors.message_list(area=self.area, urgency=Urgency.URGENT)

    def alert_response(
        self, message: Message, code: int = status.HTTP_200_OK, languages: list[str] | None = None
    ) -> Response:
        message = self.get_queryset().get(pk=message.pk)
        # An alert's audience cannot change after creation: the languages checked before it was stored hold.
        message.languages = languages if languages is not None else api_selectors.message_languages(message)  # type: ignore[attr-defined]
        message.deliveries = list(delivery_selectors.message_deliveries(message))  # type: ignore[attr-defined]
        return Response(s.AlertSerializer(message, context={"request": self.request}).data, status=code)

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.alert_response(self.get_object())

    @extend_schema(
        request={"application/json": s.AlertCreateSerializer, "multipart/form-data": s.AlertCreateSerializer},
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.AlertSerializer, **ERRORS},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Publish an urgent alert now: approved by the urgent-alert policy (audited, shown to approvers
        afterwards), one delivery per channel of each required language. JSON, or multipart with one `image`
        (then `audience` and `variants` are JSON strings) and its `alt_fr`/`alt_nl`/`alt_de`."""
        serializer = s.AlertCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        audience = s.audience_from(data.pop("audience"))
        variants = s.variants_from(data.pop("variants"))
        self.check_area(audience)
        languages = explain_missing_languages(audience=audience, variants=variants)
        image = data.pop("image", None)
        alt = {lang: data.pop(f"alt_{lang}") for lang in ("fr", "nl", "de")}
        message_status = data.pop("status")
        message = alerts.alert_create(
            token_or_actor=self.token or self.actor,
            audience=audience,
            variants=variants,
            cap=data,
            status=message_status,
            image=image,
            image_alt=alt,
        )
        return self.alert_response(message, status.HTTP_201_CREATED, languages=languages)

    @extend_schema(
        request=s.AlertFollowUpSerializer,
        parameters=[IDEMPOTENCY_PARAMETER],
        responses={201: s.AlertSerializer, **ERRORS},
    )
    @action(detail=True, methods=["post"])
    def updates(self, request: Request, pk: str | None = None) -> Response:
        """Follow an alert up: `Update` or `Cancel` (all clear), replying on every channel that carried it;
        or correct it (`Update` with `correction`), editing its posts where the network allows it."""
        alert = self.get_object()
        serializer = s.AlertFollowUpSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        msg_type = data.pop("msg_type")
        variants = s.variants_from(data.pop("variants"))
        correction = data.pop("correction")
        follow_up = alerts.alert_follow_up(
            token_or_actor=self.token or self.actor,
            alert=alert,
            msg_type=msg_type,
            variants=variants,
            cap=data,
            correction=correction,
        )
        return self.alert_response(follow_up, status.HTTP_201_CREATED)


class AlertCapView(TandemAPIView):
    """The CAP 1.2 document of an alert: one <info> per language."""

    renderer_classes = [CapXMLRenderer, renderers.JSONRenderer]
    required_scopes = {"get": READ}

    def get_queryset(self) -> QuerySet[Message]:
        return api_selectors.message_list(area=self.area, urgency=Urgency.URGENT)

    @extend_schema(responses={(200, "application/xml"): OpenApiTypes.STR, **ERRORS})
    def get(self, request: Request, pk: str) -> HttpResponse:
        alert = self.get_object()

        return HttpResponse(cap_document(alert), content_type="application/xml")
