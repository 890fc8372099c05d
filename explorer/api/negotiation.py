"""Content negotiation for the compatible dialects (Esplora, Etherscan-style, Blockscout v2)."""

from __future__ import annotations

from rest_framework.negotiation import BaseContentNegotiation


class AnyClient(BaseContentNegotiation):
    """Ignore ``Accept``, as the servers these dialects copy do: a client asking for text/plain
    (or anything) gets the dialect's answer rather than a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
