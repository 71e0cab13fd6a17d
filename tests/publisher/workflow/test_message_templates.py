import pytest
from django.utils import translation

from publisher.errors import ValidationError
from publisher.models import AuditEvent, MessageTemplate
from publisher.workflow import message_templates
from publisher.workflow.message_templates import placeholders_in, template_fill
from tests.factories import UserFactory

DEFAULT_SLUGS = ["holding-statement", "witness-appeal", "road-closure", "missing-person", "scam-warning"]


def test_the_five_default_templates_are_seeded_with_placeholders_in_each_language(db):
    templates = list(message_templates.templates_offered())
    assert [t.slug for t in templates] == DEFAULT_SLUGS
    for template in templates:
        placeholders = message_templates.template_placeholders(template)
        assert placeholders["fr"], template.slug
        assert len(placeholders["fr"]) == len(placeholders["nl"]), template.slug
        # Each passes the checks an administrator's edit goes through.
        message_templates.template_validate({f: getattr(template, f) for f in message_templates.TEXT_FIELDS})
    holding = templates[0]
    assert message_templates.template_placeholders(holding) == {"fr": ["lieu", "faits"], "nl": ["plaats", "feiten"]}


def test_the_holding_statement_says_we_will_inform_you_here(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    assert "Nous vous informerons ici" in template.text_fr
    assert "We houden u hier op de hoogte" in template.text_nl


def test_placeholders_are_words_in_braces_once_each_in_order():
    assert placeholders_in("À {lieu} le {date}, {lieu}", "{téléphone} { x} {1a} {a b} {âge}") == [
        "lieu",
        "date",
        "téléphone",
        "âge",
    ]
    assert message_templates.placeholder_label("numéro_de_téléphone") == "Numéro de téléphone"
    assert message_templates.template_preview("À {lieu} : {faits}.") == "À [Lieu] : [Faits]."


def holding_values():
    return {
        "fr": {"lieu": "Ixelles", "faits": "un incendie rue du Trône"},
        "nl": {"plaats": "Elsene", "feiten": "een brand in de Troonstraat"},
    }


def test_fill_substitutes_each_languages_own_values(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    filled = template_fill(template=template, values=holding_values(), language="nl")
    assert filled.texts["fr"].startswith("Nous sommes au courant de la situation à Ixelles : un incendie rue du Trône.")
    assert filled.texts["nl"].startswith("We zijn op de hoogte van de situatie in Elsene: een brand in de Troonstraat.")
    assert filled.title == "Incident in Elsene"
    assert "{" not in filled.texts["fr"] + filled.texts["nl"]
    assert template_fill(template=template, values=holding_values(), language="fr").title == "Incident à Ixelles"


def test_unfilled_placeholders_are_refused_with_a_translated_error(db):
    template = MessageTemplate.objects.get(slug="holding-statement")
    values = holding_values()
    values["nl"]["plaats"] = "  "
    with translation.override("nl"), pytest.raises(ValidationError) as caught:
        template_fill(template=template, values=values)
    assert caught.value.message_dict == {"nl.plaats": ["Vul „Plaats” in."]}
    with translation.override("fr"), pytest.raises(ValidationError) as caught:
        template_fill(template=template, values={})
    assert set(caught.value.message_dict) == {"fr.lieu", "fr.faits", "nl.plaats", "nl.feiten"}
    assert caught.value.message_dict["fr.faits"] == ["Complétez « Faits »."]


def test_a_value_is_substituted_once_never_again():
    template = MessageTemplate(name_fr="T", name_nl="T", text_fr="A {lieu} {date}", text_nl="B {plaats}")
    filled = template_fill(
        template=template, values={"fr": {"lieu": "{date}", "date": "demain"}, "nl": {"plaats": "{x}"}}
    )
    assert filled.texts == {"fr": "A {date} demain", "nl": "B {x}"}
    assert filled.title == "T"


@pytest.mark.parametrize(
    ("value", "problem"),
    [("x" * 501, "too long"), ("ligne\nsuivante", "control characters")],
)
def test_bad_values_are_refused(value, problem):
    template = MessageTemplate(name_fr="T", name_nl="T", text_fr="{lieu}", text_nl="{plaats}")
    with pytest.raises(ValidationError, match=problem):
        template_fill(template=template, values={"fr": {"lieu": value}, "nl": {"plaats": "Elsene"}})


def test_an_administrator_creates_updates_and_deletes_a_template_audited(roles):
    admin_user = UserFactory(username="beheerder", is_superuser=True)
    fields = {
        "name_fr": "Alerte météo",
        "name_nl": "Weeralarm",
        "text_fr": "Vents violents attendus à {lieu} le {date}.",
        "text_nl": "Zware wind verwacht in {plaats} op {datum}.",
    }
    template = message_templates.template_create(actor=admin_user, **fields)
    assert template.slug == "alerte-meteo"
    assert message_templates.template_placeholders(template) == {"fr": ["lieu", "date"], "nl": ["plaats", "datum"]}
    message_templates.template_update(template=template, actor=admin_user, **{**fields, "title_fr": "Météo {lieu}"})
    with pytest.raises(ValidationError) as caught:
        message_templates.template_update(template=template, actor=admin_user, **{**fields, "title_nl": "Weer {plaats"})
    assert "title_nl" in caught.value.message_dict
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
        ({"text_fr": "À {lieu", "text_nl": "In {plaats}"}, "text_fr"),
        ({"text_fr": "À {lieu}", "text_nl": "In { plaats}"}, "text_nl"),
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
