import json
from pathlib import Path

from PIL import Image

from publisher.channels.base import Post
from publisher.channels.outbox import OutboxAdapter
from tests.factories import ChannelFactory


def test_writes_json_and_renditions(db, settings, stored_image):
    channel = ChannelFactory(kind="outbox", name="Outbox FR")
    post = Post(text="Bonjour", language="fr", images=(stored_image(4000, 3000, alt="Grande photo"),))

    receipt = OutboxAdapter(channel).publish(post, "tandem-delivery-3")

    folder = Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{channel.pk}"
    document = json.loads((folder / "tandem-delivery-3.json").read_text())
    assert document["text"] == "Bonjour"
    (image,) = document["images"]
    assert image["alt"] == "Grande photo"
    with Image.open(folder / image["file"]) as written:
        assert max(written.size) == 2048
    assert receipt.url.endswith("tandem-delivery-3.json")


def test_retract_deletes_the_post_and_its_images_only(db, settings, stored_image, tmp_path):
    from publisher.channels.base import Receipt

    settings.TANDEM_OUTBOX_DIR = str(tmp_path)
    channel = ChannelFactory(kind="outbox", name="Outbox FR")
    adapter = OutboxAdapter(channel)
    image = stored_image(1200, 900)
    adapter.publish(Post(text="Un", language="fr", images=(image, image)), "tandem-delivery-1")
    adapter.publish(Post(text="Dix", language="fr", images=(image,)), "tandem-delivery-10")
    folder = Path(settings.TANDEM_OUTBOX_DIR) / f"channel-{channel.pk}"
    assert len(list(folder.iterdir())) == 5

    adapter.retract(Receipt(remote_id="tandem-delivery-1", url=""))

    assert sorted(p.name for p in folder.iterdir()) == ["tandem-delivery-10-0.jpg", "tandem-delivery-10.json"]
    # Already gone (a retry of the retraction): nothing to do, no error.
    adapter.retract(Receipt(remote_id="tandem-delivery-1", url=""))
