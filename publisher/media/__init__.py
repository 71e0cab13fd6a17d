"""Images: ingest, sanitise, and the renditions each network accepts. Reads models only."""
