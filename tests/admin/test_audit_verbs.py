import re
from pathlib import Path

from publisher.models import AUDIT_VERBS as VERBS

ROOT = Path(__file__).resolve().parents[2]


def test_every_recorded_audit_verb_has_words():
    """A new audit verb must get a readable, translated label on the message page."""
    recorded = set()
    for path in [*(ROOT / "publisher").rglob("*.py"), *(ROOT / "accounts").rglob("*.py")]:
        recorded |= set(re.findall(r'verb="([a-z_]+\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    assert recorded, "no audit verbs found: the pattern no longer matches the services"
    assert recorded <= set(VERBS), sorted(recorded - set(VERBS))
