from __future__ import annotations

from django.conf import settings


def network(request) -> dict:
    """Every page shows which Hemi network it describes."""
    return {"hemi_network": settings.HEMI_NETWORK}
