"""The whole-run log scan for credentials (tests/credential_scan.py) sees what it must."""

import logging

from publisher.channels import credentials
from tests.credential_scan import leaks, secret_values, values_noted


def test_every_encrypted_secret_is_noted_for_the_scan_at_the_end_of_the_run():
    credentials.encrypt({"secret": "scan-noted-token-4d1c", "account": "@zone@example.social"})
    assert "scan-noted-token-4d1c" in values_noted()
    assert "@zone@example.social" not in values_noted()


def test_a_secret_in_a_log_line_is_found_and_shown_by_its_first_characters_only():
    assert leaks("publisher.channels INFO sent with token=scan-log-token-77ab", {"scan-log-token-77ab"}) == [
        "scan… (19 characters)"
    ]
    assert leaks("nothing here", {"scan-log-token-77ab"}) == []


def test_nested_secrets_are_found_and_the_other_keys_left_alone():
    data = {"pages": [{"id": "1040001", "access_token": "page-token-abcdef"}], "client_id": "public-client-id"}
    assert list(secret_values(data)) == ["page-token-abcdef"]


def test_the_run_keeps_the_log_records_even_after_logging_is_reconfigured(caplog):
    root = logging.getLogger()
    assert any(isinstance(h, logging.FileHandler) and "tandem-test-logs-" in h.baseFilename for h in root.handlers)
