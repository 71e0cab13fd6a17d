"""Request and response shapes of API v1. Serializers validate shape only; services decide."""

from __future__ import annotations

import json
from typing import Any

from django.core.validators import MaxLengthValidator
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from publisher.channels import cap
from publisher.language.problems import message_language_findings
from publisher.models import (
    VARIANT_TEXT_MAX,
    Channel,
    ChannelCredential,
    Delivery,
    Language,
    LanguageConfirmation,
    Message,
    MessageKind,
    MessageStatus,
    Municipality,
    Segment,
    Urgency,
    variant_text_validate,
)
from publisher.territory import routing
from publisher.workflow.services import Audience, VariantInput

MAX_TEXT = VARIANT_TEXT_MAX
MAX_LIST = 600  # Belgium has 565 municipalities.


class NisListField(serializers.ListField):
    """NIS codes in; NIS codes out, read from a (prefetched) many-to-many relation."""

    def to_representation(self, data: Any) -> list[Any]:
        if hasattr(data, "all"):
            return [m.pk for m in data.all()]
        return super().to_representation(data)


def nis_list() -> serializers.ListField:
    return NisListField(
        child=serializers.RegexField(
            r"^[0-9]{5}$", max_length=5, error_messages={"invalid": _("A NIS code has 5 digits.")}
        ),
        default=list,
        max_length=MAX_LIST,
    )


# --- Reference data ---------------------------------------------------------------------


class MunicipalitySerializer(serializers.ModelSerializer[Municipality]):
    languages = serializers.SerializerMethodField(help_text="The variants this municipality requires.")
    postal_codes = serializers.SerializerMethodField()
    zone = serializers.CharField(source="police_zone_id", allow_null=True, read_only=True)
    province = serializers.CharField(source="province_id", allow_null=True, read_only=True)

    class Meta:
        model = Municipality
        fields = [
            "nis_code",
            "name_fr",
            "name_nl",
            "name_de",
            "language_region",
            "facilities",
            "languages",
            "region",
            "province",
            "zone",
            "postal_codes",
        ]

    def get_languages(self, obj: Municipality) -> list[str]:
        return routing.municipality_languages(obj)

    def get_postal_codes(self, obj: Municipality) -> list[str]:
        return obj.postal_code_list


class SegmentSerializer(serializers.ModelSerializer[Segment]):
    municipalities = nis_list()

    class Meta:
        model = Segment
        fields = ["id", "name_fr", "name_nl", "municipalities", "created_at"]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"name_fr": {"max_length": 200}, "name_nl": {"max_length": 200}}


class ChannelSerializer(serializers.ModelSerializer[Channel]):
    municipalities = nis_list()
    secret_ref = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=200,
        help_text="Name of the secret (environment variable or secret-store entry); never returned.",
    )
    has_secret = serializers.SerializerMethodField()
    connected = serializers.SerializerMethodField()
    connected_until = serializers.SerializerMethodField()
    kind = serializers.CharField(max_length=40)
    language = serializers.ChoiceField(choices=Language.choices)
    config = serializers.DictField(required=False, help_text="Non-secret settings of the adapter.")

    class Meta:
        model = Channel
        fields = [
            "id",
            "name",
            "kind",
            "language",
            "covers_all",
            "municipalities",
            "enabled",
            "config",
            "secret_ref",
            "has_secret",
            "connected",
            "connected_until",
            "needs_reconnect",
            "needs_reconnect_reason",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "needs_reconnect", "needs_reconnect_reason", "created_at", "updated_at"]

    def get_has_secret(self, obj: Channel) -> bool:
        return bool(obj.secret_ref) or self.get_connected(obj)

    def _credential(self, obj: Channel) -> ChannelCredential | None:
        try:
            return obj.credential
        except ChannelCredential.DoesNotExist:
            return None

    @extend_schema_field(OpenApiTypes.BOOL)
    def get_connected(self, obj: Channel) -> bool:
        """A credential was connected from the admin (the secret itself is never returned)."""
        return self._credential(obj) is not None

    @extend_schema_field(serializers.DateTimeField(allow_null=True, read_only=True))
    def get_connected_until(self, obj: Channel) -> str | None:
        """Until when the connection holds without a person: the later of the access's expiry
        and the grant's (Tandem renews the access until then); null if it does not expire."""
        row = self._credential(obj)
        if row is None or row.expires_at is None:
            return None
        return max(row.expires_at, row.refresh_expires_at or row.expires_at).isoformat()


# --- Messages -----------------------------------------------------------------------------


@extend_schema_field({"type": "string", "maxLength": MAX_TEXT})
class VariantTextField(serializers.CharField):
    """A variant's text: maxLength in the schema, refused in the compose form's own words."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=MAX_TEXT, **kwargs)
        # DRF's own length message would differ from the form's: one rule, one message.
        self.validators = [v for v in self.validators if not isinstance(v, MaxLengthValidator)]
        self.validators.append(variant_text_validate)


class VariantSerializer(serializers.Serializer[Any]):
    text = VariantTextField()
    link = serializers.URLField(required=False, allow_blank=True, max_length=500, default="")


class VariantsSerializer(serializers.Serializer[Any]):
    """One entry per language: {"fr": {...}, "nl": {...}}; German is optional."""

    fr = VariantSerializer(required=False)
    nl = VariantSerializer(required=False)
    de = VariantSerializer(required=False)

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict):
            unknown = [k for k in data if k not in self.fields]
            if unknown:
                raise serializers.ValidationError({k: [_("Unknown language: use fr, nl or de.")] for k in unknown})
        return super().to_internal_value(data)


class AudienceSerializer(serializers.Serializer[Any]):
    municipalities = nis_list()
    zones = serializers.ListField(child=serializers.CharField(max_length=4), default=list, max_length=MAX_LIST)
    provinces = serializers.ListField(child=serializers.CharField(max_length=5), default=list, max_length=20)
    segments = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**31 - 1), default=list, max_length=100
    )
    all = serializers.BooleanField(default=False, help_text="All of Belgium.")


class RecurrenceSerializer(serializers.Serializer[Any]):
    rrule = serializers.CharField(max_length=1000, help_text="RFC 5545 RRULE, e.g. FREQ=WEEKLY;BYDAY=MO")
    dtstart = serializers.CharField(
        max_length=40, help_text="First occurrence, ISO 8601 with offset; the rule runs on Brussels wall time."
    )


def audience_from(data: dict[str, Any]) -> Audience:
    return Audience(
        municipalities=list(data.get("municipalities", [])),
        zones=list(data.get("zones", [])),
        provinces=list(data.get("provinces", [])),
        segments=list(data.get("segments", [])),
        all=bool(data.get("all", False)),
    )


def variants_from(data: dict[str, Any]) -> dict[str, VariantInput]:
    return {
        language: VariantInput(text=value["text"], link=value.get("link", ""))
        for language, value in data.items()
        if value is not None
    }


def audience_data(message: Message) -> dict[str, Any]:
    # Reads the prefetched relations: no query per message in a list.
    return {
        "municipalities": [m.pk for m in message.audience_municipalities.all()],
        "zones": [z.pk for z in message.audience_zones.all()],
        "provinces": [p.pk for p in message.audience_provinces.all()],
        "segments": [s.pk for s in message.audience_segments.all()],
        "all": message.audience_all,
    }


def variants_data(message: Message) -> dict[str, Any]:
    return {v.language: {"text": v.text, "link": v.link} for v in message.variants.all()}


class MessageWriteSerializer(serializers.Serializer[Any]):
    title = serializers.CharField(max_length=200, required=False)
    variants = VariantsSerializer()
    audience = AudienceSerializer()
    publish_at = serializers.CharField(
        max_length=40, required=False, allow_null=True, help_text="ISO 8601 with offset, e.g. 2027-03-01T09:00+01:00"
    )
    recurrence = RecurrenceSerializer(required=False, allow_null=True)
    status = serializers.ChoiceField(choices=MessageStatus.choices, default=MessageStatus.ACTUAL)
    urgency = serializers.ChoiceField(choices=Urgency.choices, default=Urgency.ROUTINE)


class MessagePatchSerializer(MessageWriteSerializer):
    variants = VariantsSerializer(required=False)
    audience = AudienceSerializer(required=False)
    status = serializers.ChoiceField(choices=MessageStatus.choices, required=False)
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False)


class MessageSerializer(serializers.ModelSerializer[Message]):
    variants = serializers.SerializerMethodField()
    audience = serializers.SerializerMethodField()
    recurrence = serializers.SerializerMethodField()
    author = serializers.CharField(source="author.username", read_only=True)
    # A reason the system gave is coded: the client reads it in the request's language.
    state_reason = serializers.CharField(source="state_reason_text", read_only=True)

    class Meta:
        model = Message
        fields = [
            "id",
            "title",
            "author",
            "state",
            "state_reason",
            "status",
            "urgency",
            "kind",
            "follows",
            "is_correction",
            "variants",
            "audience",
            "publish_at",
            "recurrence",
            "cap",
            "approved_by_policy",
            "approved_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(VariantsSerializer)
    def get_variants(self, obj: Message) -> dict[str, Any]:
        return variants_data(obj)

    @extend_schema_field(AudienceSerializer)
    def get_audience(self, obj: Message) -> dict[str, Any]:
        return audience_data(obj)

    @extend_schema_field(RecurrenceSerializer(allow_null=True))
    def get_recurrence(self, obj: Message) -> dict[str, Any] | None:
        if not obj.recurrence:
            return None
        return {
            "rrule": obj.recurrence,
            "dtstart": timezone.localtime(obj.recurrence_start).isoformat() if obj.recurrence_start else "",
        }


class LanguageConfirmationSerializer(serializers.ModelSerializer[LanguageConfirmation]):
    confirmed_by: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )

    class Meta:
        model = LanguageConfirmation
        fields = ["id", "field", "language", "text_hash", "reason", "confirmed_by", "confirmed_at"]
        read_only_fields = fields


class LanguageFindingSerializer(serializers.Serializer[Any]):
    """What the language guard says about one text; an `error` blocks submission unless `confirmed`."""

    field = serializers.CharField(help_text='"variants.nl" or "attachments.<id>.alt_nl".')
    code = serializers.CharField(help_text="wrong_language, mixed_language, place_name, ...")
    # A plain string, not an enum: "severity" already names the CAP enum in the schema.
    severity = serializers.CharField(help_text="error (blocks unless confirmed) or warning.")
    message = serializers.CharField()
    language = serializers.CharField()
    excerpt = serializers.CharField(help_text="The sentence or word concerned; empty for the whole text.")
    start = serializers.IntegerField(help_text="Offset of the excerpt in the text; -1 for the whole text.")
    end = serializers.IntegerField()
    replacement = serializers.CharField()
    confirmed = LanguageConfirmationSerializer(allow_null=True, help_text="The author's deliberate exception.")


class MessageDetailSerializer(MessageSerializer):
    languages = serializers.ListField(
        child=serializers.CharField(), read_only=True, help_text="The variants the audience requires."
    )
    language_findings = serializers.SerializerMethodField()

    class Meta(MessageSerializer.Meta):
        fields = [*MessageSerializer.Meta.fields, "languages", "language_findings"]
        read_only_fields = fields

    @extend_schema_field(LanguageFindingSerializer(many=True))
    def get_language_findings(self, message: Message) -> list[dict[str, Any]]:
        items = [
            {**item.finding.as_dict(), "field": item.field, "confirmed": item.confirmation}
            for item in message_language_findings(message)
        ]
        return list(LanguageFindingSerializer(items, many=True).data)


class DeliverySerializer(serializers.ModelSerializer[Delivery]):
    channel_name = serializers.CharField(source="channel.name", read_only=True)
    # Empty until the network answers with one: a plain string, not a "uri" ("" is none).
    remote_url = serializers.CharField(read_only=True, help_text="The post on the network; empty until published.")

    class Meta:
        model = Delivery
        fields = [
            "id",
            "channel",
            "channel_name",
            "language",
            "state",
            "remote_url",
            "due_at",
            "sent_at",
            "attempts",
            "last_error",
        ]
        read_only_fields = fields


class ApproveSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    checklist = serializers.DictField(required=False, default=dict, help_text="The approval checklist, as ticked.")


class RejectSerializer(serializers.Serializer[Any]):
    comment = serializers.CharField(max_length=2000)


class ReasonSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class AttachmentUploadSerializer(serializers.Serializer[Any]):
    image = serializers.FileField()
    alt_fr = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")
    alt_nl = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")
    alt_de = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")
    language = serializers.ChoiceField(choices=[("", "all"), *Language.choices], required=False, default="")


class AttachmentSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    format = serializers.CharField()
    sha256 = serializers.CharField()
    alt_fr = serializers.CharField()
    alt_nl = serializers.CharField()
    alt_de = serializers.CharField()
    language = serializers.CharField()


# --- Alerts -------------------------------------------------------------------------------

CAP_CATEGORIES = list(cap.CATEGORIES)
CAP_SEVERITIES = list(cap.SEVERITIES)
CAP_URGENCIES = list(cap.URGENCIES)
CAP_CERTAINTIES = list(cap.CERTAINTIES)


class JSONObjectField(serializers.Field):
    """An object; in a multipart request (alert with an image) it may come as a JSON string."""

    inner_class: type[serializers.Serializer[Any]]

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise serializers.ValidationError(_("Not valid JSON.")) from exc
        inner = self.inner_class(data=data)
        inner.is_valid(raise_exception=True)
        return inner.validated_data

    def to_representation(self, value: Any) -> Any:
        return value


@extend_schema_field(AudienceSerializer)
class AudienceField(JSONObjectField):
    inner_class = AudienceSerializer


@extend_schema_field(VariantsSerializer)
class VariantsField(JSONObjectField):
    inner_class = VariantsSerializer


class CapFieldsSerializer(serializers.Serializer[Any]):
    category = serializers.ChoiceField(choices=CAP_CATEGORIES, default="Safety")
    severity = serializers.ChoiceField(choices=CAP_SEVERITIES, default="Unknown")
    urgency = serializers.ChoiceField(choices=CAP_URGENCIES, default="Immediate")
    certainty = serializers.ChoiceField(choices=CAP_CERTAINTIES, default="Unknown")
    event = serializers.CharField(max_length=200)
    headline = serializers.CharField(max_length=200, required=False, allow_blank=True)
    instruction = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AlertCreateSerializer(CapFieldsSerializer):
    audience = AudienceField()
    variants = VariantsField()
    status = serializers.ChoiceField(choices=MessageStatus.choices, default=MessageStatus.ACTUAL)
    image = serializers.FileField(required=False, help_text="Optional, in a multipart request.")
    alt_fr = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")
    alt_nl = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")
    alt_de = serializers.CharField(max_length=1500, required=False, allow_blank=True, default="")


class AlertFollowUpSerializer(serializers.Serializer[Any]):
    msg_type = serializers.ChoiceField(choices=[MessageKind.UPDATE.value, MessageKind.CANCEL.value])
    correction = serializers.BooleanField(
        default=False,
        help_text="With `Update`: the variants are the alert's corrected text. Its posts are edited in place "
        "where the network allows it (Mastodon, Telegram, Facebook, webhook `message.updated`, CAP Update, Atom) "
        "and get a reply saying it is a correction elsewhere (Bluesky, X, Instagram).",
    )
    variants = VariantsSerializer()
    severity = serializers.ChoiceField(choices=CAP_SEVERITIES, required=False)
    urgency = serializers.ChoiceField(choices=CAP_URGENCIES, required=False)
    certainty = serializers.ChoiceField(choices=CAP_CERTAINTIES, required=False)
    headline = serializers.CharField(max_length=200, required=False, allow_blank=True)
    instruction = serializers.CharField(max_length=2000, required=False, allow_blank=True)


class AlertSerializer(MessageDetailSerializer):
    deliveries = DeliverySerializer(many=True, read_only=True)
    cap_url = serializers.SerializerMethodField()

    class Meta(MessageDetailSerializer.Meta):
        fields = [*MessageDetailSerializer.Meta.fields, "deliveries", "cap_url"]
        read_only_fields = fields

    def get_cap_url(self, obj: Message) -> str:
        path = reverse("api:alert-cap", args=[obj.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class LanguageConfirmSerializer(serializers.Serializer[Any]):
    """Confirm a wrong-language error as deliberate: a variant's text, or with `attachment` an
    image's alt text in that language."""

    language = serializers.ChoiceField(choices=["fr", "nl", "de"])
    reason = serializers.CharField(max_length=1000)
    attachment = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1)
