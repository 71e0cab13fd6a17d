"""Admin pages of the compose and approve workflow (wired in publisher/admin.py)."""
