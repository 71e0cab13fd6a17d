"""Where messages go: municipalities, zones, provinces, language regions, routing to channels,
search and the reference data. Reads models only."""
