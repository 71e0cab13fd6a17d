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
