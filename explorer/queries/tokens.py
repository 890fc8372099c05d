"""Tokens: the list, one token, its transfers and holders as pages, bounded counts."""

from __future__ import annotations

from django.db.models import Q

from explorer.queries.cursor import Page, PageRequest
from hemiscope import networks
from indexer.hemi.models import Token, TokenBalance, TokenTransfer

LIST = "tokens"
TRANSFERS = "token-transfers"
HOLDERS = "token-holders"
# Counts stop here: "10000+" costs at most this many index entries, never a table scan.
COUNT_CAP = 10_000


def list_tokens(req: PageRequest) -> Page[Token]:
    """Tokens, newest first by first sight (row id); 1 query."""
    qs = Token.objects.order_by("-id")
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda t: (t.id,))


def get_token(address: bytes) -> Token | None:
    return Token.objects.filter(address=address).first()


def search_tokens(prefix: str, limit: int = 10) -> list[Token]:
    """Tokens whose name or symbol starts with ``prefix`` (case-insensitive), for search."""
    return list(
        Token.objects.filter(Q(symbol__istartswith=prefix) | Q(name__istartswith=prefix)).order_by("id")[:limit]
    )


def bounded_count(qs, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(count, capped): counts at most ``cap`` + 1 rows, so it is bounded on any table size."""
    n = qs.order_by()[: cap + 1].count()
    return min(n, cap), n > cap


def holder_count(token: Token) -> tuple[int, bool]:
    return bounded_count(TokenBalance.objects.filter(token=token).exclude(balance=0))


def transfer_count(token: Token) -> tuple[int, bool]:
    return bounded_count(TokenTransfer.objects.filter(token=token, canonical=True))


def transfers(token: Token, req: PageRequest) -> Page[TokenTransfer]:
    """The token's transfers, newest first (index hemi_transfer_token); 1 query."""
    qs = (
        TokenTransfer.objects.filter(token=token)
        .select_related("token", "log__transaction", "block")
        .defer("log__transaction__raw", "log__transaction__receipt_raw", "log__transaction__input", "block__header_rlp")
        .order_by("-id")
    )
    if req.after is not None:
        qs = qs.filter(id__lt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda t: (t.id,))


def holders(token: Token, req: PageRequest) -> Page[TokenBalance]:
    """Holders with a non-zero balance, in the order they first held it (row id); 1 query."""
    qs = TokenBalance.objects.filter(token=token).exclude(balance=0).order_by("id")
    if req.after is not None:
        qs = qs.filter(id__gt=req.after[0])
    return req.page(qs[: req.limit + 1], lambda b: (b.id,))


def is_hemibtc(token: Token) -> bool:
    """The network's tunnel token: the only one whose mints are DepositConfirmed events."""
    configured = networks.current().hemibtc_address
    return bool(configured) and bytes(token.address) == bytes.fromhex(configured[2:])
