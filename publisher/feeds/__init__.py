"""Feeds Tandem serves itself: Atom per language or channel, and CAP 1.2 alerts."""
