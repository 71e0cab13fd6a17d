"""A channel administrator connects a Telegram channel from its page (in Dutch), sees the
connection box, then a webhook's secret shown once. Screenshots in test-artifacts/browser/."""

import pytest
from django.contrib.auth.models import Group

from accounts.models import Role
from tests.factories import ChannelFactory, UserFactory
from tests.fakes.fixtures import *  # noqa: F403 - the fake networks

BOT_TOKEN = "7000000:AAH-browser-test-token"  # noqa: S105 - a test value


@pytest.fixture
def kanaalbeheerder(roles):
    user = UserFactory(username="kanaalbeheerder", preferred_language="nl")
    user.groups.add(Group.objects.get(name=Role.CHANNEL_ADMIN))
    return user


def test_connecting_a_telegram_channel_and_a_webhook(login, kanaalbeheerder, fake_telegram, fake_webhook):
    fake_telegram.add_bot(BOT_TOKEN, "zone_bxl_bot")
    fake_telegram.add_chat("@politie_bxl", title="Politie Brussel")
    fake_telegram.make_admin("@politie_bxl", BOT_TOKEN)
    telegram = ChannelFactory(
        name="Politie Brussel (Telegram)", kind="telegram", language="nl", config={"api_url": fake_telegram.url}
    )
    webhook = ChannelFactory(
        name="Crisiscel (webhook)", kind="webhook", language="nl", config={"url": fake_webhook.endpoint}
    )
    session = login("kanaalbeheerder")
    page = session.page
    session.goto(f"/admin/publisher/channel/{telegram.pk}/change/")
    box = page.locator("#connection")
    assert "Niet gekoppeld" in box.inner_text()
    session.shot("connect-01-telegram-not-connected-nl")
    box.get_by_role("link", name="Koppelen").click()
    page.fill("#id_bot_token", BOT_TOKEN)
    page.fill("#id_chat_id", "@politie_bxl")
    session.shot("connect-02-telegram-form-nl")
    page.get_by_role("button", name="Controleren en koppelen").click()
    page.wait_for_selector("#connection")
    text = page.locator("#connection").inner_text()
    assert "Gekoppeld als @zone_bxl_bot → Politie Brussel" in text
    assert BOT_TOKEN not in page.content()
    session.shot("connect-03-telegram-connected-nl")

    session.goto(f"/admin/publisher/channel/{webhook.pk}/change/")
    page.locator("#connection").get_by_role("link", name="Koppelen").click()
    page.get_by_role("button", name="Geheim maken").click()
    secret = page.locator("#webhook-secret").input_value()
    assert secret.startswith("whsec_")
    session.shot("connect-04-webhook-secret-once-nl")
    page.get_by_role("link", name="Klaar").click()
    assert secret not in page.content()
    page.locator("#connection").get_by_role("button", name="Geheim vernieuwen").click()
    assert "wordt elke gebeurtenis met het nieuwe én het vorige geheim ondertekend" in page.content()
    session.shot("connect-05-webhook-rotated-nl")
