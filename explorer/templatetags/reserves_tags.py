"""``{% reserves_banner %}``: the reserve mismatch banner on the tunnel and token pages.

An inclusion tag rather than view context, so a page shows it with one template line and its
view does not change. It reads the latest verdict the worker cached (``explorer.reserves.latest_known``): no query."""

from __future__ import annotations

from django import template

register = template.Library()


@register.inclusion_tag("explorer/parts/reserves_banner.html")
def reserves_banner():
    from explorer import reserves

    result = reserves.latest_known()
    return {"reserves": result if result is not None and result.alert else None}
