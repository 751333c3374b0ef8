"""The HTTP API under /api/v1 (FastAPI): the fleet's live state, patrols, sorties,
findings, audit, and a stream of live updates. Bearer tokens with roles."""
