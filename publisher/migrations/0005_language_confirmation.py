# Depends on 0003 here; the integrator re-points it after the other branch's 0004.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("publisher", "0004_channel_needs_reconnect_since"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="LanguageConfirmation",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("field", models.CharField(max_length=100, verbose_name="field")),
                ("language", models.CharField(max_length=2, verbose_name="language")),
                ("text_hash", models.CharField(max_length=64, verbose_name="text hash")),
                ("reason", models.TextField(verbose_name="reason")),
                ("confirmed_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="confirmed at")),
                (
                    "confirmed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="confirmed by",
                    ),
                ),
                (
                    "message",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="language_confirmations",
                        to="publisher.message",
                    ),
                ),
            ],
            options={
                "verbose_name": "language confirmation",
                "verbose_name_plural": "language confirmations",
                "ordering": ["message", "field", "-confirmed_at"],
                "constraints": [
                    models.UniqueConstraint(fields=("message", "field", "text_hash"), name="language_confirmation_once")
                ],
            },
        ),
    ]
