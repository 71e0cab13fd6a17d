import pytest
from django.utils import translation

from publisher.errors import ValidationError
from publisher.models import AuditEvent, MessageTemplate
from publisher.workflow import message_templates
from publisher.workflow.message_templates import placeholders_in, template_fill
from tests.factories import UserFactory

DEFAULT_SLUGS = ["holding-statement", "witness-appeal", "road-closure", "missing-person", "scam-warning"]


def test_the_five_default_templates_are_seeded_with_the_same_placeholders_in_both_languages(db):
    templates = list(message_templates.templates_offered())
    assert [t.slug for t in templates] == DEFAULT_SLUGS
    for template in templates:
        fr = set(placeholders_in(template.title_fr, template.text_fr))
        nl = set(placeholders_in(template.title_nl, template.text_nl))
        assert fr == nl, template.slug
        assert fr, template.slug
        # Each passes the checks an administrator's edit goes through.
        message_templates.template_validate({f: getattr(template, f) for f in message_templates.TEXT_FIELDS})
        # Every placeholder of the defaults has words, not its code, in both languages.
        for name in fr:
            for language in ("fr", "nl"):
                with translation.override(language):
                    assert message_templates.placeholder_label(name) != name


def test_the_holding_statement_says_we_will_inform_you_here(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    assert "Nous vous informerons ici" in template.text_fr
    assert "We houden u hier op de hoogte" in template.text_nl


def test_placeholders_are_words_in_braces_once_each_in_order():
    assert placeholders_in("À {place} le {date}, {place}", "{phone} {téléphone} { x} {1a} {a b}") == [
        "place",
        "date",
        "phone",
        "téléphone",
    ]


def test_fill_substitutes_per_language_and_a_value_given_once_serves_both(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    filled = template_fill(
        template=template,
        values={"fr": {"event": "un incendie", "place": "Ixelles"}, "nl": {"event": "een brand", "place": "Elsene"}},
        language="nl",
    )
    assert filled.texts["fr"].startswith("Nous sommes au courant de un incendie à Ixelles.")
    assert filled.texts["nl"].startswith("We zijn op de hoogte van een brand in Elsene.")
    assert filled.title == "Incident in Elsene"
    assert "{" not in filled.texts["fr"] + filled.texts["nl"]

    witness = MessageTemplate.objects.get(slug="witness-appeal")
    values = {
        "fr": {"date": "3 décembre", "time": "22 h", "place": "Ixelles", "event": "un vol", "phone": "02 279 79 79"},
        "nl": {"place": "Elsene", "event": "een diefstal", "date": "3 december", "time": ""},
    }
    filled = template_fill(template=witness, values=values, language="fr")
    assert "02 279 79 79" in filled.texts["nl"]  # given in French only: serves both
    assert "rond 22 h" in filled.texts["nl"]
    assert filled.title == "Appel à témoins — Ixelles"


def test_unfilled_placeholders_are_refused_with_a_translated_error(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    with translation.override("nl"), pytest.raises(ValidationError) as caught:
        template_fill(template=template, values={"fr": {"event": "un vol"}, "nl": {"place": "  "}})
    assert set(caught.value.message_dict) == {"place"}
    assert caught.value.message_dict["place"] == ["Vul „Plaats” in."]
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        template_fill(template=template, values={})
    assert caught.value.message_dict["event"] == ["Complétez « Ce qui s'est passé »."]


def test_a_value_is_substituted_once_never_again():
    template = MessageTemplate(name_fr="T", name_nl="T", text_fr="A {place} {date}", text_nl="B {place} {date}")
    filled = template_fill(template=template, values={"fr": {"place": "{date}", "date": "demain"}})
    assert filled.texts == {"fr": "A {date} demain", "nl": "B {date} demain"}
    assert filled.title == "T"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("x" * 501, "too long"), ("ligne\nsuivante", "control characters")],
)
def test_bad_values_are_refused(value, problem):
    template = MessageTemplate(name_fr="T", name_nl="T", text_fr="{place}", text_nl="{place}")
    with pytest.raises(ValidationError, match=problem):
        template_fill(template=template, values={"fr": {"place": value}})


def test_an_administrator_creates_updates_and_deletes_a_template_audited(roles):
    admin_user = UserFactory(username="beheerder", is_superuser=True)
    fields = {
        "name_fr": "Alerte météo",
        "name_nl": "Weeralarm",
        "text_fr": "Vents violents attendus à {place} le {date}.",
        "text_nl": "Zware wind verwacht in {place} op {date}.",
    }
    template = message_templates.template_create(actor=admin_user, **fields)
    assert template.slug == "alerte-meteo"
    assert message_templates.template_placeholders(template) == ["place", "date"]
    message_templates.template_update(template=template, actor=admin_user, **{**fields, "title_fr": "Météo {place}"})
    with pytest.raises(ValidationError) as caught:
        message_templates.template_update(
            template=template, actor=admin_user, **{**fields, "title_fr": "Météo {region}"}
        )
    assert "missing here: {region}" in caught.value.message_dict["text_nl"][0]
    message_templates.template_delete(template=template, actor=admin_user)
    assert not MessageTemplate.objects.filter(slug="alerte-meteo").exists()
    verbs = list(
        AuditEvent.objects.filter(object_type="messagetemplate", object_id=str(template.pk))
        .order_by("id")
        .values_list("verb", flat=True)
    )
    assert verbs == ["template.created", "template.updated", "template.deleted"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"text_fr": "À {place", "text_nl": "In {place"}, "text_fr"),
        ({"text_fr": "À {place}", "text_nl": "In Elsene"}, "text_nl"),
        ({"text_fr": "", "text_nl": "x"}, "text_fr"),
        ({"text_fr": "a", "text_nl": "b", "name_fr": "deux\nlignes"}, "name_fr"),
        ({"text_fr": "a", "text_nl": "b", "position": "beaucoup"}, "position"),
    ],
)
def test_bad_templates_are_refused_at_their_field(roles, fields, field):
    admin_user = UserFactory(username="beheerder", is_superuser=True)
    with pytest.raises(ValidationError) as caught:
        message_templates.template_create(actor=admin_user, **{"name_fr": "N", "name_nl": "N", **fields})
    assert field in caught.value.message_dict


def test_a_code_is_unique(roles):
    admin_user = UserFactory(username="beheerder", is_superuser=True)
    with pytest.raises(ValidationError) as caught:
        message_templates.template_create(
            actor=admin_user, slug="scam-warning", name_fr="A", name_nl="B", text_fr="a", text_nl="b"
        )
    assert "slug" in caught.value.message_dict
