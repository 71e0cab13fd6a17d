# A year of history (issue 16): the newest-first lists and the feeds read from indexes
# instead of sorting every message or every sent delivery.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0005_language_confirmation"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="message",
            index=models.Index(fields=["-created_at", "-id"], name="message_created_idx"),
        ),
        migrations.AddIndex(
            model_name="delivery",
            index=models.Index(
                condition=models.Q(("state", "sent")), fields=["-sent_at", "-id"], name="delivery_sent_idx"
            ),
        ),
    ]
