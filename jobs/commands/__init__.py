"""One module per command group; each exposes ``COMMANDS`` (see jobs.cli)."""
