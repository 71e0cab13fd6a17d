import factory
from django.contrib.auth.models import Group

from accounts.models import User
from publisher.models import Channel, Language, Message, Municipality, Segment
from publisher.workflow import services


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    is_staff = True
    preferred_language = "fr"
    password = factory.django.Password("pw-for-tests")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        for role in extracted or []:
            self.groups.add(Group.objects.get(name=role))


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = "outbox"
    language = Language.FR
    covers_all = False

    @factory.post_generation
    def coverage(self, create, extracted, **kwargs):
        if extracted:
            self.municipalities.set(Municipality.objects.filter(nis_code__in=extracted))


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment
        skip_postgeneration_save = True

    name_fr = factory.Sequence(lambda n: f"Segment {n}")
    name_nl = factory.Sequence(lambda n: f"Segment {n}")

    @factory.post_generation
    def nis(self, create, extracted, **kwargs):
        if extracted:
            self.municipalities.set(Municipality.objects.filter(nis_code__in=extracted))


def make_message(
    *,
    author: User,
    variants: dict[str, str] | None = None,
    municipalities: list[str] | None = None,
    **audience: object,
) -> Message:
    """A draft message through the real service (so hashes and audit events are right)."""
    variants = variants if variants is not None else {"fr": "Bonjour", "nl": "Hallo"}
    return services.message_create(
        author=author,
        title="Test message",
        variants={lang: services.VariantInput(text) for lang, text in variants.items()},
        audience=services.Audience(municipalities=municipalities or ["21004"], **audience),  # type: ignore[arg-type]
    )
