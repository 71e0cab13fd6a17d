"""Serves MEDIA_ROOT under /media/, standing in for our public web server (Instagram
fetches the rendition URLs we give it)."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from tests.fakes.base import FakeServer, Reply, Request


class StaticMediaServer(FakeServer):
    name = "media"

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root.resolve()
        self.route("GET", r"/media/(?P<path>.+)", self.serve)

    def serve(self, request: Request) -> Reply:
        path = (self.root / request.match["path"]).resolve()
        if self.root not in path.parents or not path.is_file():
            return Reply(404, b"not found", content_type="text/plain")
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return Reply(200, path.read_bytes(), content_type=content_type)
