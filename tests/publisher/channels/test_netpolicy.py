"""The outgoing-request policy: refused addresses, allowed networks, https, DNS rebinding,
and every adapter's connection (HTTP client and SMTP) going through it."""

import socket

import pytest

from publisher.channels.base import Post
from publisher.channels.email import EmailAdapter
from publisher.channels.http import HttpSession
from publisher.channels.netpolicy import RefusedDestination, url_problem
from publisher.channels.webhook import WebhookAdapter
from tests.fakes.webhook import FakeWebhookReceiver

REFUSED = [
    ("127.0.0.1", "loopback"),
    ("127.8.9.10", "loopback"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"),  # the cloud metadata service
    ("224.0.0.251", "multicast"),
    ("0.0.0.0", "unspecified"),
    ("240.0.0.1", "reserved"),
    ("100.64.0.1", "reserved"),  # shared address space (carrier-grade NAT)
    ("::1", "loopback"),
    ("fc00::1", "private"),
    ("fd12:3456::1", "private"),
    ("fe80::1", "link-local"),
    ("ff02::1", "multicast"),
    ("::", "unspecified"),
    # IPv6 forms that carry a refused IPv4 address.
    ("::ffff:127.0.0.1", "loopback"),
    ("::ffff:169.254.169.254", "link-local"),
    ("2002:7f00:1::", "loopback"),  # 6to4
    ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64
]


def url_for(address: str, scheme: str = "https") -> str:
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}:8443/hook"


@pytest.fixture
def no_allowed_networks(settings):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = []
    return settings


@pytest.fixture
def fake_dns(monkeypatch):
    """Answers for made-up names, as getaddrinfo gives them; everything else resolves normally."""
    answers: dict[str, list[list[str]]] = {}
    calls: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host not in answers:
            return real(host, port, *args, **kwargs)
        calls.append(host)
        queue = answers[host]
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, int(port or 0), 0, 0) if ":" in a else (a, int(port or 0)),
            )
            for a in addresses
        ]

    # Patched where every resolver looks it up: the policy's and httpcore's/socket's own.
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    answers_calls = type("FakeDns", (), {"answers": answers, "calls": calls})
    return answers_calls


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_every_non_public_literal_address_is_refused_with_its_kind(no_allowed_networks, address, kind):
    problem = url_problem(url_for(address))
    assert problem is not None
    assert f"({kind})" in problem
    assert "TANDEM_CHANNEL_ALLOWED_NETWORKS" in problem


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:4700:4700::1111"])
def test_public_literal_addresses_are_accepted(no_allowed_networks, address):
    assert url_problem(url_for(address)) is None


@pytest.mark.parametrize(("address", "kind"), [("10.0.0.7", "private"), ("fe80::7", "link-local")])
def test_a_host_name_resolving_to_a_refused_address_is_refused(no_allowed_networks, fake_dns, address, kind):
    fake_dns.answers["internal.example.be"] = [[address]]
    problem = url_problem("https://internal.example.be/api")
    assert problem is not None
    assert problem.startswith(f"internal.example.be resolves to {address}, which is not a public address")
    assert f"({kind})" in problem


def test_a_name_with_one_internal_answer_among_public_ones_is_refused(no_allowed_networks, fake_dns):
    fake_dns.answers["mixed.example.be"] = [["93.184.216.34", "192.168.0.10"]]
    assert "192.168.0.10" in url_problem("https://mixed.example.be/")


def test_localhost_is_refused_through_real_resolution(no_allowed_networks):
    assert "(loopback)" in url_problem("https://localhost:6379/")


def test_a_name_that_does_not_resolve_now_is_left_to_the_connection(no_allowed_networks):
    assert url_problem("https://nowhere.invalid/") is None


def test_listed_networks_are_allowed_and_nothing_else(settings):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = ["10.20.0.0/16", "fd00:1::/32"]
    assert url_problem(url_for("10.20.3.4")) is None
    assert url_problem(url_for("fd00:1::5")) is None
    assert "(private)" in url_problem(url_for("10.21.0.1"))
    assert "(loopback)" in url_problem(url_for("127.0.0.1"))
    # The environment gives one comma-separated string.
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = "169.254.0.0/16, 127.0.0.1/32"
    assert url_problem(url_for("169.254.169.254")) is None
    assert url_problem(url_for("127.0.0.1")) is None
    assert url_problem(url_for("127.0.0.2")) is not None


def test_only_https_unless_http_is_allowed(settings):
    settings.TANDEM_CHANNEL_HTTP_ALLOWED = False
    assert url_problem("http://93.184.216.34/hook") == "Use an https:// URL."
    assert url_problem("https://93.184.216.34/hook") is None
    settings.TANDEM_CHANNEL_HTTP_ALLOWED = True
    assert url_problem("http://93.184.216.34/hook") is None
    assert url_problem("ftp://93.184.216.34/hook") == "Use an https:// URL."


@pytest.mark.parametrize("url", ["", "social.example", "https://", "https://host:99999/", "/api/v1", ["https://a"]])
def test_a_url_must_be_complete(url):
    assert url_problem(url) is not None


def test_http_client_refuses_a_loopback_server_and_sends_nothing(fake_webhook, no_allowed_networks):
    with HttpSession() as http, pytest.raises(RefusedDestination, match=r"127\.0\.0\.1 is not a public address"):
        http.request("POST", fake_webhook.endpoint, content=b"{}")
    assert fake_webhook.requests == []


def test_http_client_refuses_plain_http_when_it_is_not_allowed(fake_webhook, settings):
    settings.TANDEM_CHANNEL_HTTP_ALLOWED = False
    with HttpSession() as http, pytest.raises(RefusedDestination, match="https://"):
        http.request("POST", fake_webhook.endpoint, content=b"{}")
    assert fake_webhook.requests == []


def test_http_client_refuses_a_name_resolving_to_loopback(fake_webhook, no_allowed_networks, fake_dns):
    fake_dns.answers["hooks.example.be"] = [["127.0.0.1"]]
    url = fake_webhook.endpoint.replace("127.0.0.1", "hooks.example.be")
    with HttpSession() as http, pytest.raises(RefusedDestination, match="hooks.example.be resolves to 127.0.0.1"):
        http.request("POST", url, content=b"{}")
    assert fake_webhook.requests == []


@pytest.fixture
def two_receivers():
    """Two receivers on the same port: an allowed one on 127.0.0.2, a refused one on 127.0.0.1."""
    refused = FakeWebhookReceiver()
    refused.start()
    allowed = FakeWebhookReceiver()
    allowed.host, allowed.port = "127.0.0.2", refused._httpd.server_address[1]
    allowed.start()
    try:
        yield allowed, refused
    finally:
        allowed.stop()
        refused.stop()


def test_dns_rebinding_between_check_and_connect_never_reaches_the_refused_address(two_receivers, settings, fake_dns):
    """A rebinding name answers an allowed address first, then an internal one: the client
    connects to the address it checked, never to a second answer."""
    allowed, refused = two_receivers
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    fake_dns.answers["rebind.example.be"] = [["127.0.0.2"], ["127.0.0.1"]]
    url = allowed.endpoint.replace("127.0.0.2", "rebind.example.be")

    with HttpSession() as http:
        response = http.request("POST", url, content=b"{}", check=False)

    assert response.status_code == 400  # the allowed receiver answered (unsigned body)
    assert len(allowed.requests) == 1
    assert allowed.requests[0].headers["host"].startswith("rebind.example.be")
    assert refused.requests == []
    assert fake_dns.calls == ["rebind.example.be"]  # resolved once per connection


def test_dns_rebinding_after_the_channel_was_saved_is_refused_at_send(
    two_receivers, settings, fake_dns, make_channel, monkeypatch
):
    from publisher.workflow import catalogue
    from tests.factories import UserFactory

    allowed, refused = two_receivers
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    fake_dns.answers["rebind.example.be"] = [["127.0.0.2"], ["127.0.0.1"]]
    monkeypatch.setenv("TANDEM_SECRET_REBIND", refused.secret)
    channel = catalogue.channel_create(
        actor=UserFactory(),
        name="Rebinding hook",
        kind="webhook",
        language="fr",
        covers_all=True,
        config={"url": refused.endpoint.replace("127.0.0.1", "rebind.example.be"), "timeout": 1.0},
        secret_ref="TANDEM_SECRET_REBIND",
    )

    with pytest.raises(RefusedDestination, match="rebind.example.be resolves to 127.0.0.1"):
        WebhookAdapter(channel).publish(Post(text="Bonjour", language="fr"), idempotency_key="tandem-delivery-1")
    assert refused.requests == []
    assert refused.events == {}


def test_smtp_refuses_a_loopback_relay_and_sends_nothing(smtp_server, make_channel, no_allowed_networks):
    channel = make_channel(
        "email",
        config={"host": "127.0.0.1", "port": smtp_server.port, "recipients": ["presse@zone.be"]},
    )
    with pytest.raises(RefusedDestination, match=r"127\.0\.0\.1 is not a public address \(loopback\)"):
        EmailAdapter(channel).publish(Post(text="Bonjour", language="fr"), idempotency_key="tandem-delivery-1")
    assert smtp_server.messages == []


def test_smtp_refuses_a_relay_name_rebound_to_loopback(smtp_server, make_channel, settings, fake_dns):
    settings.TANDEM_CHANNEL_ALLOWED_NETWORKS = ["127.0.0.2/32"]
    fake_dns.answers["relay.example.be"] = [["127.0.0.1"]]
    channel = make_channel(
        "email",
        config={"host": "relay.example.be", "port": smtp_server.port, "recipients": ["presse@zone.be"]},
    )
    with pytest.raises(RefusedDestination, match="relay.example.be resolves to 127.0.0.1"):
        EmailAdapter(channel).publish(Post(text="Bonjour", language="fr"), idempotency_key="tandem-delivery-1")
    assert smtp_server.messages == []


def test_smtp_connects_to_the_checked_address(smtp_server, make_channel, fake_dns):
    fake_dns.answers["relay.example.be"] = [["127.0.0.1"], ["10.9.9.9"]]
    channel = make_channel(
        "email",
        config={"host": "relay.example.be", "port": smtp_server.port, "recipients": ["presse@zone.be"]},
    )
    EmailAdapter(channel).publish(Post(text="Bonjour", language="fr"), idempotency_key="tandem-delivery-1")
    assert len(smtp_server.messages) == 1
    assert fake_dns.calls == ["relay.example.be"]


def test_a_channel_stored_before_the_policy_fails_its_delivery_permanently_with_the_reason(
    author, fake_webhook, no_allowed_networks, monkeypatch, django_capture_on_commit_callbacks
):
    from publisher.delivery import dispatch, publishing
    from publisher.models import Channel, Delivery, DeliveryState
    from tests.publisher.dispatch_support import due_deliveries

    monkeypatch.setenv("TANDEM_SECRET_OLD_HOOK", fake_webhook.secret)
    ids = due_deliveries(author=author, count=1, kind="webhook", config={"url": fake_webhook.endpoint})
    Channel.objects.filter(deliveries__in=ids).update(secret_ref="TANDEM_SECRET_OLD_HOOK")

    dispatch.deliveries_claim(ids=ids)
    with django_capture_on_commit_callbacks(execute=True):
        assert publishing.deliveries_publish(delivery_ids=ids) == {"permanent": 1}

    delivery = Delivery.objects.get(pk=ids[0])
    assert delivery.state == DeliveryState.FAILED
    assert "127.0.0.1 is not a public address (loopback)" in delivery.last_error
    assert fake_webhook.requests == []
