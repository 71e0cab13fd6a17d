"""Local fake network servers, one module per network, each enforcing the contract in
shared/reference/channels.md (auth, field names, limits, error bodies, rate-limit headers).

Use them through the fixtures in tests/fakes/fixtures.py (register them in a conftest with
``from tests.fakes.fixtures import *``): ``fake_mastodon``, ``fake_bluesky``,
``fake_telegram``, ``fake_facebook``, ``fake_instagram`` (+ ``media_server``, which serves
MEDIA_ROOT as our public URL), ``fake_x``, ``fake_webhook``, ``smtp_server`` (aiosmtpd),
and ``make_channel(kind, config=..., secret=...)`` for a Channel wired to a fake.

Failure injection, on every HTTP fake (tests/fakes/base.py):
  fake.fail_next(503)                                    # a 5xx
  fake.fail_next(429, headers={"Retry-After": "30"})      # rate limited
  fake.slow_next(2.0)    # handled (the post exists), answer too late: a client timeout
  fake.hang_next(2.0)    # no answer in time, nothing created
  fake.expire_token()    # credentials stop working: the adapter raises AuthError
plus network-specific ones: FakeTelegram.flood_next, FakeBluesky.rate_limit_next /
expire_sessions, FakeFacebook.rate_limit_next, FakeX.rate_limit_next,
FakeMastodon.rate_limit_remaining / media_processing_polls, FakeInstagram.quota_usage.
"""
