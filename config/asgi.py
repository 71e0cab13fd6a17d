import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_asgi_application()

# Imported once Django is set up. Django's ASGI handler spools a whole body before its
# middleware runs: an oversize or endless (chunked) body is cut here first.
from publisher.request_limits import asgi_body_limit  # noqa: E402

application = asgi_body_limit(django_application)
