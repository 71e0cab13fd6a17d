"""The compose page's live language check: a Dutch text typed in the French box is flagged
within a second, and a French place name in the Dutch text is replaced in one click."""

import time

import pytest

from publisher.language import placenames
from tests.factories import UserFactory

pytestmark = pytest.mark.browser

# Debounce (300 ms) plus the round trip: what the author must see within a second.
WITHIN_SECONDS = 1.0


@pytest.fixture
def redacteur(db):
    from accounts.services import roles_sync

    roles_sync()
    placenames.cache_clear()
    return UserFactory(username="redacteur", roles=["author"], preferred_language="nl")


def type_text(page, selector, text):
    """Types like a person (one input event per key), returns when the last key went in."""
    page.click(selector)
    page.keyboard.type(text, delay=5)
    return time.monotonic()


def test_dutch_typed_in_the_french_box_is_flagged_within_a_second(login, redacteur):
    session = login("redacteur", locale="nl-BE")
    page = session.page
    session.goto("/admin/publisher/message/add/")
    typed = type_text(
        page,
        "#id_text_fr",
        "Let op: er worden veel fietsen gestolen in het centrum. Zet uw fiets altijd vast aan een vast punt.",
    )
    flagged = page.locator('.language-findings[data-for="text_fr"] .finding[data-code="wrong_language"]')
    flagged.wait_for(timeout=5_000)
    elapsed = time.monotonic() - typed
    session.shot("20-language-wrong-language-nl")
    assert elapsed < WITHIN_SECONDS, f"the warning took {elapsed:.2f} s"
    assert flagged.inner_text().strip()
    # The Dutch box holds Dutch: nothing said there.
    type_text(page, "#id_text_nl", "Er worden veel fietsen gestolen in het centrum van de stad.")
    page.wait_for_timeout(800)
    assert page.locator('.language-findings[data-for="text_nl"] .finding[data-code="wrong_language"]').count() == 0


def test_a_french_place_name_in_the_dutch_text_is_replaced_in_one_click(login, redacteur):
    session = login("redacteur", locale="nl-BE")
    page = session.page
    session.goto("/admin/publisher/message/add/")
    text = "Fietsdiefstallen in Ixelles: maak uw fiets altijd vast aan een vast punt."
    typed = type_text(page, "#id_text_nl", text)
    finding = page.locator('.language-findings[data-for="text_nl"] .finding[data-code="place_name"]')
    finding.wait_for(timeout=5_000)
    elapsed = time.monotonic() - typed
    assert elapsed < WITHIN_SECONDS, f"the suggestion took {elapsed:.2f} s"
    assert "In het Nederlands: Elsene." in finding.inner_text()
    assert "severity-warning" in finding.get_attribute("class")
    session.shot("21-language-place-name-nl")
    finding.get_by_role("button", name="Vervangen door Elsene").click()
    assert page.input_value("#id_text_nl") == text.replace("Ixelles", "Elsene")
    # The replaced text is checked again: the suggestion goes away.
    finding.wait_for(state="detached", timeout=5_000)
    session.shot("22-language-place-name-replaced-nl")


def test_only_the_occurrence_clicked_is_replaced(login, redacteur):
    session = login("redacteur", locale="nl-BE")
    page = session.page
    session.goto("/admin/publisher/message/add/")
    type_text(page, "#id_image_alt_nl", "Een fiets in Anvers, vlak bij het station van Anvers")
    findings = page.locator('.language-findings[data-for="image_alt_nl"] .finding[data-code="place_name"]')
    findings.nth(1).wait_for(timeout=5_000)
    findings.nth(1).get_by_role("button").click()
    assert page.input_value("#id_image_alt_nl") == "Een fiets in Anvers, vlak bij het station van Antwerpen"
