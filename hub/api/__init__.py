"""The hub's HTTP API and status page (FastAPI)."""
