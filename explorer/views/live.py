"""Live regions: how a page keeps itself current with htmx polling, and when it stops.

A live region is one element of a page (its htmx partial) with ``hx-get`` back to the page,
``hx-trigger="every Ns"`` and ``hx-swap="outerHTML"``. The poll carries the data stamp the
region was rendered at (``?since=``, :mod:`explorer.queries.live`):

* stamp unchanged -> ``204`` after one query: htmx swaps nothing, the region keeps polling;
* stamp changed   -> ``200`` with the re-rendered region (and the new stamp);
* region final    -> ``286`` with the last render and no polling attributes: htmx stops.

A region is *final* when nothing it shows can change any more (for example a superfinal
block: its anchoring is settled). A page that is final when first served never polls at all.
Lists never go final; they show a "new rows" banner instead of moving rows under the reader.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.conf import settings
from django.shortcuts import render

from explorer.params import BadParameter, digits
from explorer.queries.live import data_stamp
from hemiscope import networks

STOP_POLLING = 286  # htmx: swap this response, then cancel the element's polling


def poll_seconds() -> int:
    """Seconds between polls: ``EXPLORER_POLL_SECONDS``, else Hemi's block time (every page shows
    Hemi-derived state, and Hemi is the faster chain), never below ``FOLLOW_INTERVAL_SECONDS``
    (the indexers write at most that often, so a faster poll could never see anything new)."""
    wanted = settings.EXPLORER_POLL_SECONDS or networks.current().hemi_block_seconds
    return max(1, round(max(wanted, settings.FOLLOW_INTERVAL_SECONDS)))


def request_stamp(request) -> str:
    """The data stamp for this request, read once and BEFORE the page's own queries: a change
    committed in between then shows as a new stamp on the next poll, never as a missed one."""
    stamp = getattr(request, "_live_stamp", None)
    if stamp is None:
        stamp = request._live_stamp = data_stamp()
    return stamp


@dataclass(frozen=True)
class Live:
    """How one region polls. ``url`` is None when the region is final."""

    url: str | None
    seconds: int
    waiting_for: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.url is None


# Query parameters a region's poll never needs: the old stamp, and the trail (the trail is
# drawn around the region, not in it).
_NOT_POLLED = frozenset({"since", "mint", "hop"})


def region(request, *, final: bool, waiting_for: tuple[str, ...] | list[str] = ()) -> Live:
    """The live state of the page's region: poll back to this URL (its query kept) with the
    current stamp, unless ``final``. ``waiting_for`` says what can still change, for the reader."""
    seconds = poll_seconds()
    if final:
        return Live(None, seconds, ())
    params = [(k, v) for k, v in request.GET.items() if k not in _NOT_POLLED]
    params.append(("since", request_stamp(request)))
    return Live(f"{request.path}?{urlencode(params)}", seconds, tuple(waiting_for))


def unchanged_since(request) -> bool:
    """An htmx poll whose stamp is still current: nothing in its region can have changed."""
    since = request.GET.get("since")
    return bool(since) and bool(request.htmx) and since == request_stamp(request)


# The "new rows" banner of a list's first page ------------------------------------------------
# The rows stay where the reader is; a banner polls how many arrived above the first one.
BANNER_CAP = 100


def banner(request, list_url: str, head: int) -> Live:
    """The banner region of a list whose first row has key ``head`` (polls ``?newer_than=``)."""
    return Live(f"{list_url}?{urlencode({'newer_than': head, 'since': request_stamp(request)})}", poll_seconds())


def newer_than(request) -> int | None:
    """``?newer_than=`` of a banner poll (htmx only; a plain visit shows the list)."""
    raw = request.GET.get("newer_than")
    if raw is None or not request.htmx:
        return None
    if not digits(raw) or len(raw) > 18:
        raise BadParameter("newer_than: must be the key (a number) of the list's first row")
    return int(raw)


def banner_response(request, *, list_url: str, head: int, count: int, what: str):
    """The banner: nothing while no row arrived, else "N new <what>s - show them"."""
    context = {"count": min(count, BANNER_CAP), "capped": count > BANNER_CAP, "what": what, "href": list_url,
               "banner": banner(request, list_url, head)}  # fmt: skip
    return render(request, "explorer/parts/new_rows.html", context)
