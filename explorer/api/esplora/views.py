"""The Esplora REST subset under ``/esplora/api/``, for the Bitcoin data Hemiscope indexes.

Answers as Blockstream's Esplora and mempool.space do, so their clients (mempool.js,
esplora-client/BDK, OpenTimestamps, stacks.js) work unchanged: plain-text ids and heights,
JSON blocks and transactions, binary raw bytes, plain-text errors. Transactions are the ones
we store (PoP publications, tunnel deposits, withdrawal payouts); any other txid is a 404.
Everything reads through ``explorer.queries``; only ``block/:hash/raw`` reaches the Bitcoin
source (see ``rawblock``).
"""

from __future__ import annotations

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.response import Response

from explorer.api.esplora import errors, rawblock, shapes
from explorer.api.esplora import examples as ex
from explorer.api.negotiation import AnyClient
from explorer.params import BadParameter, digits, parse_hex
from explorer.queries import bitcoin, bitcoin_tx
from hemiscope.throttling import AnonApiThrottle
from indexer.bitcoin.decode import decode_tx
from indexer.bitcoin.models import BitcoinBlock, BitcoinTransaction

TAG = ["esplora"]
BLOCKS_PER_PAGE = 10  # Esplora's /blocks
TEXT = OpenApiResponse(OpenApiTypes.STR, description="Plain text.")
ERROR = OpenApiResponse(OpenApiTypes.STR, description="Plain-text error, as Esplora (`Block not found`).")
ERRORS = {(400, "text/plain"): ERROR, (404, "text/plain"): ERROR, (429, "text/plain"): ERROR}


def _param(name: str, pattern: str, description: str) -> OpenApiParameter:
    schema = {"type": "string", "pattern": pattern}
    return OpenApiParameter(name, schema, OpenApiParameter.PATH, description=description)


HASH = _param("hash", r"^[0-9a-fA-F]{64}$", "A Bitcoin block hash, display order (64 hex).")
TXID = _param("txid", r"^[0-9a-fA-F]{64}$", "A Bitcoin txid, display order (64 hex).")
HEIGHT = _param("height", r"^[0-9]{1,10}$", "A height on the active chain.")
START = _param("start_height", r"^[0-9]{1,10}$", "The highest height to list (down from it).")


def _text(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


def _binary(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/octet-stream")


def _hash(value: str, what: str) -> bytes:
    """Display-order hex from the path -> internal-order bytes (what the rows hold)."""
    try:
        return parse_hex(value, 32, what)[::-1]
    except BadParameter:
        raise BadParameter(f"Invalid hex string: {what}") from None


def _height(value: str) -> int:
    if not digits(value) or len(value) > 10:
        raise BadParameter("Invalid height")
    return int(value)


def _block(hash_display: str) -> BitcoinBlock:
    block = bitcoin.block_by_hash_internal(_hash(hash_display, "block hash"))
    if block is None:
        raise Http404("Block not found")
    return block


def _tx(txid_display: str) -> BitcoinTransaction:
    copies = bitcoin_tx.copies_of(_hash(txid_display, "txid"))
    if not copies:
        raise Http404("Transaction not found")
    return copies[0]  # the active chain's copy first


class EsploraApi(viewsets.ViewSet):
    # GET only; Esplora's error shape; no content negotiation. (A comment, not a docstring: it
    # would become every operation's description in the schema.)
    http_method_names = ["get", "head", "options"]
    content_negotiation_class = AnyClient

    def get_exception_handler(self):
        return errors.exception_handler

    def get_throttles(self):
        throttles = [AnonApiThrottle()]
        if getattr(self, "action", None) == "block_raw":
            throttles.append(rawblock.RawBlockThrottle())
        return throttles

    # --- tip -------------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="Height of the indexed Bitcoin tip (text)",
                   responses={(200, "text/plain"): TEXT, **ERRORS})  # fmt: skip
    def tip_height(self, request):
        tip = bitcoin.tip_height()
        if tip is None:
            raise Http404("No blocks indexed yet")
        return _text(str(tip))

    @extend_schema(tags=TAG, summary="Hash of the indexed Bitcoin tip (text, display order)",
                   responses={(200, "text/plain"): TEXT, **ERRORS})  # fmt: skip
    def tip_hash(self, request):
        tip = bitcoin.tip_block()
        if tip is None:
            raise Http404("No blocks indexed yet")
        return _text(tip.hash_display)

    @extend_schema(tags=TAG, summary="Hash of the active-chain block at a height (text)", parameters=[HEIGHT],
                   responses={(200, "text/plain"): TEXT, **ERRORS})  # fmt: skip
    def block_height(self, request, height: str):
        block = bitcoin.block_at_height(_height(height))
        if block is None:
            raise Http404("Block not found")
        return _text(block.hash_display)

    # --- blocks ----------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="A block", parameters=[HASH],
                   responses={200: shapes.EsploraBlockSerializer, **ERRORS}, examples=[ex.BLOCK])  # fmt: skip
    def block(self, request, hash: str):
        return Response(shapes.block_json(_block(hash)))

    @extend_schema(tags=TAG, summary="A block, mempool.space's variant", parameters=[HASH],
                   responses={200: shapes.EsploraMempoolBlockSerializer, **ERRORS},
                   examples=[ex.MEMPOOL_BLOCK])  # fmt: skip
    def block_v1(self, request, hash: str):
        block = _block(hash)
        return Response({**shapes.block_json(block), "stale": not block.in_active_chain})

    @extend_schema(tags=TAG, summary="A block's 80-byte header (hex text)", parameters=[HASH],
                   responses={(200, "text/plain"): TEXT, **ERRORS})  # fmt: skip
    def block_header(self, request, hash: str):
        return _text(bitcoin.header_raw_of(_block(hash)).hex())

    @extend_schema(tags=TAG, summary="Whether a block is on the best chain, and its best child", parameters=[HASH],
                   responses={200: shapes.EsploraBlockStatusSerializer, **ERRORS},
                   examples=[ex.BLOCK_STATUS])  # fmt: skip
    def block_status(self, request, hash: str):
        return Response(shapes.block_status_json(_block(hash)))

    @extend_schema(
        tags=TAG,
        summary="A whole block (binary), read from the configured Bitcoin source",
        description="Only for blocks Hemiscope indexed; cached, and rate-limited per client "
        "(`ESPLORA_RAW_BLOCK_RATE`). 502 when the source does not deliver it.",
        parameters=[HASH],
        responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS, (502, "text/plain"): ERROR},
    )
    def block_raw(self, request, hash: str):
        block = _block(hash)
        try:
            return _binary(rawblock.raw_block(bytes(block.hash_internal)))
        except rawblock.SourceUnavailable:
            return errors.text(502, "The Bitcoin source did not deliver the block; try again later")

    @extend_schema(tags=TAG, summary="The 10 newest active-chain blocks",
                   responses={200: shapes.EsploraBlockSerializer(many=True), **ERRORS},
                   examples=[ex.BLOCKS])  # fmt: skip
    def blocks(self, request):
        tip = bitcoin.tip_height()
        found = [] if tip is None else bitcoin.blocks_down_from(tip, BLOCKS_PER_PAGE)
        return Response([shapes.block_json(b) for b in found])

    @extend_schema(tags=TAG, summary="10 active-chain blocks down from a height", parameters=[START],
                   operation_id="esplora_api_blocks_from_height",
                   responses={200: shapes.EsploraBlockSerializer(many=True), **ERRORS},
                   examples=[ex.BLOCKS])  # fmt: skip
    def blocks_from(self, request, start_height: str):
        found = bitcoin.blocks_down_from(_height(start_height), BLOCKS_PER_PAGE)
        return Response([shapes.block_json(b) for b in found])

    @extend_schema(tags=TAG, summary="The newest active-chain blocks, mempool.space's variant (with `stale`)",
                   operation_id="esplora_api_v1_blocks",
                   responses={200: shapes.EsploraMempoolBlockSerializer(many=True), **ERRORS},
                   examples=[ex.MEMPOOL_BLOCKS])  # fmt: skip
    def blocks_v1(self, request):
        tip = bitcoin.tip_height()
        found = [] if tip is None else bitcoin.blocks_down_from(tip, BLOCKS_PER_PAGE)
        return Response([{**shapes.block_json(b), "stale": False} for b in found])

    @extend_schema(tags=TAG, summary="Active-chain blocks down from a height, mempool.space's variant",
                   operation_id="esplora_api_v1_blocks_from_height", parameters=[START],
                   responses={200: shapes.EsploraMempoolBlockSerializer(many=True), **ERRORS},
                   examples=[ex.MEMPOOL_BLOCKS])  # fmt: skip
    def blocks_from_v1(self, request, start_height: str):
        found = bitcoin.blocks_down_from(_height(start_height), BLOCKS_PER_PAGE)
        return Response([{**shapes.block_json(b), "stale": False} for b in found])

    # --- transactions ------------------------------------------------------------------------

    @extend_schema(tags=TAG, summary="A stored transaction, with fee and spent outputs", parameters=[TXID],
                   responses={200: shapes.EsploraTxSerializer, **ERRORS}, examples=[ex.TX])  # fmt: skip
    def tx(self, request, txid: str):
        row = _tx(txid)
        return Response(shapes.tx_json(row, decode_tx(bytes(row.raw))))

    @extend_schema(tags=TAG, summary="A stored transaction's serialization (hex text)", parameters=[TXID],
                   responses={(200, "text/plain"): TEXT, **ERRORS})  # fmt: skip
    def tx_hex(self, request, txid: str):
        return _text(bytes(_tx(txid).raw).hex())

    @extend_schema(tags=TAG, summary="A stored transaction's serialization (binary)", parameters=[TXID],
                   responses={(200, "application/octet-stream"): OpenApiTypes.BINARY, **ERRORS})  # fmt: skip
    def tx_raw(self, request, txid: str):
        return _binary(bytes(_tx(txid).raw))

    @extend_schema(tags=TAG, summary="Where a stored transaction is confirmed", parameters=[TXID],
                   responses={200: shapes.EsploraTxStatusSerializer, **ERRORS}, examples=[ex.TX_STATUS])  # fmt: skip
    def tx_status(self, request, txid: str):
        return Response(shapes.tx_status_json(_tx(txid)))

    @extend_schema(tags=TAG, summary="Merkle inclusion proof (Electrum's get_merkle format)", parameters=[TXID],
                   responses={200: shapes.EsploraMerkleProofSerializer, **ERRORS},
                   examples=[ex.MERKLE_PROOF])  # fmt: skip
    def tx_merkle_proof(self, request, txid: str):
        return Response(shapes.merkle_proof_json(_tx(txid)))
