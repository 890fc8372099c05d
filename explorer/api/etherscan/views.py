"""``/api?module=…&action=…``: the Etherscan-style dialect (as Blockscout serves it), dispatched
on the query string. Envelope ``{"status", "message", "result"}``; errors are HTTP 200 with
``status: "0"`` as upstream - except throttling, which stays a 429 (with ``Retry-After``) so
that clients back off, its body in the same envelope. Unknown parameters (``apikey``,
``chainid``) are ignored, as upstream does.
"""

from __future__ import annotations

import math

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from explorer.api.etherscan.actions import ACTIONS, ActionError, NoRecords
from explorer.api.negotiation import AnyClient
from explorer.params import BadParameter

MODULES = sorted({m for m, _ in ACTIONS})
ACTION_NAMES = sorted({a for _, a in ACTIONS})


def envelope(status: str, message: str, result) -> dict:
    return {"status": status, "message": message, "result": result}


def exception_handler(exc, context):
    if isinstance(exc, exceptions.Throttled):
        wait = max(1, math.ceil(exc.wait)) if exc.wait is not None else None
        headers = {"Retry-After": str(wait)} if wait else {}
        return Response(envelope("0", "NOTOK", "Max rate limit reached"), status=429, headers=headers)
    if isinstance(exc, exceptions.MethodNotAllowed):
        return Response(envelope("0", "NOTOK", "Only GET is supported"), status=405, headers={"Allow": "GET, HEAD"})
    if isinstance(exc, BadParameter | exceptions.APIException):
        return Response(envelope("0", "NOTOK", str(exc)), status=200)
    return None


class EnvelopeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["0", "1"], help_text='"1" success, "0" failure (HTTP 200 either way).')
    message = serializers.CharField(help_text='"OK", "NOTOK", or what was not found ("No transactions found").')
    result = serializers.JSONField(
        allow_null=True, help_text="The action's answer; every number is a decimal string (logs: 0x-hex)."
    )


def _q(name: str, description: str, **kwargs) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, OpenApiParameter.QUERY, description=description, **kwargs)


ACTIONS_HELP = (
    "txlist, tokentx, tokenbalance (account); getblocknobytime, eth_block_number (block); getlogs (logs); "
    "gettoken (token); gettxreceiptstatus (transaction)."
)
PARAMETERS = [
    _q("module", "account, block, logs, token or transaction.", enum=MODULES, required=True),
    _q("action", ACTIONS_HELP, enum=ACTION_NAMES, required=True),
    _q("address", "0x-address (txlist, tokentx, tokenbalance, getlogs)."),
    _q("contractaddress", "Token contract (tokentx, tokenbalance, gettoken)."),
    _q("txhash", "0x-transaction hash (gettxreceiptstatus)."),
    _q("startblock", "Lowest block number (txlist, tokentx)."),
    _q("endblock", "Highest block number (txlist, tokentx)."),
    _q("fromBlock", "Lowest block number (getlogs)."),
    _q("toBlock", "Highest block number or `latest` (getlogs)."),
    _q("topic0", "Topic filter (getlogs); topic1..3 likewise."),
    _q("timestamp", "Unix seconds (getblocknobytime)."),
    _q("closest", "before or after (getblocknobytime)."),
    _q("page", "Page number from 1; page x offset <= 10000."),
    _q("offset", "Rows per page."),
    _q("sort", "asc (default) or desc."),
]


class EtherscanApi(APIView):
    http_method_names = ["get", "head", "options"]
    content_negotiation_class = AnyClient

    def get_exception_handler(self):
        return exception_handler

    @extend_schema(
        tags=["etherscan"],
        operation_id="etherscan_api",
        summary="Etherscan-style module/action API (query-string dispatch)",
        description="Answers `account.txlist`, `account.tokentx`, `account.tokenbalance`, "
        "`block.getblocknobytime`, `block.eth_block_number`, `logs.getlogs`, `token.gettoken` and "
        "`transaction.gettxreceiptstatus` in upstream's `{status, message, result}` envelope. "
        "Errors are HTTP 200 with `status: \"0\"`; throttling is a 429 in the same envelope.",
        parameters=PARAMETERS,
        responses={200: EnvelopeSerializer, 429: EnvelopeSerializer},
        examples=[
            OpenApiExample("eth_block_number", value=envelope("1", "OK", "0x2a"), response_only=True),
            OpenApiExample("error", value=envelope("0", "NOTOK", "Error! Invalid address format"), response_only=True),
        ],
    )
    def get(self, request):
        query = request.query_params
        module = (query.get("module") or "").strip()
        action = (query.get("action") or "").strip()
        handler = ACTIONS.get((module, action))
        if handler is None:
            known = ", ".join(f"{m}.{a}" for m, a in sorted(ACTIONS))
            return Response(envelope("0", "NOTOK", f"Unknown module or action (this API answers: {known})"))
        try:
            return Response(envelope("1", "OK", handler(query)))
        except NoRecords as empty:
            return Response(envelope("0", empty.message, []))
        except ActionError as exc:
            return Response(envelope("0", "NOTOK", str(exc)))
