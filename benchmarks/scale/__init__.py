"""``make bench-scale``: pages and API under a fixed arrival rate on a synthetic chain (README)."""
