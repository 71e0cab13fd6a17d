import pytest

from publisher.channels.base import AuthError, Post, TransientError
from publisher.channels.email import EmailAdapter


@pytest.fixture
def email_channel(smtp_server, make_channel):
    def make(**config):
        return make_channel(
            "email",
            config={
                "host": "127.0.0.1",
                "port": smtp_server.port,
                "recipients": ["presse@zone.be", "crisis@zone.be"],
                "from_address": "tandem@police.example",
                **config,
            },
            secret="smtp-secret",
        )

    return make


def test_multipart_with_inline_images_and_alt(smtp_server, email_channel, stored_image):
    adapter = EmailAdapter(email_channel())
    post = Post(
        text="Fermeture de la rue Neuve.\n\nDéviation par le boulevard.",
        language="fr",
        link="https://police.brussels/neuve",
        images=(stored_image(alt="Plan « déviation »"),),
    )
    receipt = adapter.publish(post, "tandem-delivery-12")

    ((recipients, message),) = smtp_server.messages
    assert recipients == ["presse@zone.be", "crisis@zone.be"]
    assert "zone.be" not in message["To"]  # the list is not disclosed to its members
    assert message["Message-ID"] == "<tandem-delivery-12@police.example>" == receipt.remote_id
    assert message["Subject"] == "Fermeture de la rue Neuve."
    assert message["Content-Language"] == "fr"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "https://police.brussels/neuve" in plain
    (related,) = [part for part in message.walk() if part.get_content_type() == "multipart/related"]
    (image,) = [part for part in related.iter_parts() if part.get_content_maintype() == "image"]
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}" alt="Plan « déviation »"' in html
    assert image.get_content_type() == "image/jpeg"


def test_follow_up_threads_with_in_reply_to(smtp_server, email_channel):
    adapter = EmailAdapter(email_channel())
    original = adapter.publish(Post(text="Alerte", language="fr"), "k1")
    adapter.publish(Post(text="Fin d'alerte", language="fr", reply_to=original), "k2")
    assert smtp_server.messages[1][1]["In-Reply-To"] == original.remote_id


def test_authentication(smtp_server, email_channel):
    smtp_server.users["tandem"] = "smtp-secret"
    EmailAdapter(email_channel(username="tandem")).publish(Post(text="ok", language="fr"), "k1")
    assert len(smtp_server.messages) == 1

    smtp_server.users["tandem"] = "changed"
    with pytest.raises(AuthError, match="535"):
        EmailAdapter(email_channel(username="tandem")).publish(Post(text="refused", language="fr"), "k2")


def test_temporary_smtp_failure_is_transient(smtp_server, email_channel):
    smtp_server.data_reply = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(TransientError, match="451"):
        EmailAdapter(email_channel()).publish(Post(text="x", language="fr"), "k")


def test_no_server_is_transient(email_channel):
    with pytest.raises(TransientError):
        EmailAdapter(email_channel(port=1)).publish(Post(text="x", language="fr"), "k")
