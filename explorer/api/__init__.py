"""The REST API (``/api/v1/``): read-only DRF views over the read layer (``explorer/queries``)."""
