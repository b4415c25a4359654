"""BlogQueue HTTP API (Litestar)."""
