"""Getting posts out: scheduling (deliveries from approved messages), the dispatcher (claims
what is due), publishing (the network call and its outcome), the django-q2 tasks and queue.
Causes effects owned by workflow only through the callbacks in hooks.py."""
