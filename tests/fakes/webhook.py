"""A Standard Webhooks receiver: verifies every delivery with the reference
`standardwebhooks` library (so our signatures are proved equivalent to it), rejects bad
signatures and stale timestamps (±5 min), and de-duplicates on webhook-id."""

from __future__ import annotations

import base64
import secrets

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fakes.base import FakeServer, Reply, Request


class FakeWebhookReceiver(FakeServer):
    name = "webhook"

    def __init__(self) -> None:
        super().__init__()
        self.secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        self.events: dict[str, dict] = {}  # webhook-id → payload (first delivery only)
        self.duplicates = 0
        self.rejected: list[str] = []
        self.route("POST", r"/hooks/tandem", self.receive)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/hooks/tandem"

    def receive(self, request: Request) -> Reply:
        try:
            payload = Webhook(self.secret).verify(request.body, request.headers)
        except WebhookVerificationError as exc:
            self.rejected.append(str(exc))
            return Reply(400, {"error": str(exc)})
        webhook_id = request.headers["webhook-id"]
        if webhook_id in self.events:
            self.duplicates += 1
        else:
            self.events[webhook_id] = payload
        return Reply(204, None)
