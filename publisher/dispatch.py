"""The dispatcher: claims due deliveries and hands them to the task queue.

Placeholder until the dispatch engine lands: one pass does nothing.
"""


def dispatch_once() -> int:
    """Claim and enqueue due deliveries; returns how many were handed over."""
    return 0
