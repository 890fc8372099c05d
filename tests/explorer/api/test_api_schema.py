"""The OpenAPI schema: it validates, covers every /api/v1/ route with a summary and an example
that conforms to its own response schema, and its Swagger UI page runs under a CSP without
'unsafe-inline' from vendored assets only."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest
from django.core.management import call_command


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator

    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def test_the_schema_validates_with_no_generator_warning(tmp_path):
    # --fail-on-warn: a field or parameter whose type spectacular had to guess fails the build.
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
    assert (tmp_path / "schema.yaml").read_text().startswith("openapi: 3.")


def test_schema_endpoint_serves_yaml_and_json(client, db):
    assert client.get("/api/schema/").content.startswith(b"openapi: 3.")
    body = client.get("/api/schema/?format=json").json()
    assert body["openapi"].startswith("3.") and "/api/v1/blocks" in body["paths"]


def test_every_api_route_is_in_the_schema(schema):
    from django.urls import get_resolver

    from explorer.api.v1.urls import urlpatterns

    routes = set()
    for pattern in urlpatterns:
        # "^blocks/(?P<ident>[^/.]+)$" -> "/api/v1/blocks/{ident}"; "reports/<uuid:pk>" -> "/api/v1/reports/{pk}"
        text = str(pattern.pattern).strip("^$")
        text = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", text))
        routes.add("/api/v1/" + text)
    # The compatible subsets (Blockscout v2, Esplora; their plain-Django catch-all 404s aside)
    # and the Etherscan-style /api.
    from explorer.api.blockscout.urls import urlpatterns as blockscout
    from explorer.api.esplora.urls import urlpatterns as esplora

    for prefix, patterns in (("/api/v2/", blockscout), ("/esplora/api/", esplora)):
        for pattern in patterns:
            if pattern.name != "not-found":
                routes.add(prefix + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern)))
    routes.add("/api")
    assert routes == set(schema["paths"]), routes ^ set(schema["paths"])
    assert len(routes) >= 60 and get_resolver()  # blocks, txs, addresses, tokens, keystones, Bitcoin, tunnel...


def _json_schema(node, components):
    """OpenAPI 3.0 -> JSON Schema: inline $refs, turn `nullable` into a null type."""
    if isinstance(node, list):
        return [_json_schema(n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _json_schema(components[node["$ref"].rsplit("/", 1)[1]], components)
    out = {k: _json_schema(v, components) for k, v in node.items() if k not in ("nullable", "readOnly", "example")}
    if node.get("nullable"):
        out = {"anyOf": [out, {"type": "null"}]}
    return out


# The error statuses each dialect documents: /api/v1's 400, Blockscout's 422 for a malformed
# parameter, Esplora's 400, and the Etherscan-style dialect's HTTP-200 errors (only 429 differs).
ERROR_CODES = {"v1": ("400", "429"), "v2": ("422", "429", "404"), "esplora": ("400", "404", "429"),
               "etherscan": ("429",)}  # fmt: skip


def _dialect(path: str) -> str:
    if path.startswith("/api/v1/"):
        return "v1"
    if path.startswith("/api/v2/"):
        return "v2"
    return "esplora" if path.startswith("/esplora/") else "etherscan"


def test_every_operation_has_a_summary_and_a_conforming_example(schema):
    components = schema["components"]["schemas"]
    checked = 0
    for path, item in schema["paths"].items():
        for method, op in item.items():
            # Read-only, except asking for a report (a job: 202).
            assert method == "get" or (path, method) == ("/api/v1/reports", "post"), (path, method)
            assert op.get("summary"), path
            for code in ERROR_CODES[_dialect(path)]:
                assert code in op["responses"], (path, code)
            success = op["responses"]["202" if method == "post" else "200"]["content"]
            if path.endswith("/download"):  # the report file itself: no JSON body to exemplify
                assert {"application/x-tar", "application/json", "text/csv", "application/pdf"} == set(success), path
                continue
            if "application/json" not in success:
                continue  # Esplora's plain-text and binary answers (ids, hex, raw bytes)
            ok = success["application/json"]
            examples = ok.get("examples")
            assert examples, f"{path} has no example"
            body_schema = _json_schema(ok["schema"], components)
            for name, example in examples.items():
                jsonschema.validate(example["value"], body_schema), (path, name)
                checked += 1
    assert checked >= 50


def test_example_checking_catches_a_wrong_example(schema):
    """The check above is not vacuous: a uint256 as a number, or a null where none is allowed, fails."""
    components = schema["components"]["schemas"]
    ok = schema["paths"]["/api/v1/blocks/{ident}"]["get"]["responses"]["200"]["content"]["application/json"]
    example = dict(next(iter(ok["examples"].values()))["value"])
    body_schema = _json_schema(ok["schema"], components)
    for field, bad in (("gas_used", 84211), ("hash", "5e" * 32), ("miner", None)):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**example, field: bad}, body_schema)


def test_bitcoin_hash_fields_name_their_byte_order(schema):
    components = schema["components"]["schemas"]
    for name in ("BitcoinBlock", "PopPublication", "Mint", "Deposit"):
        props = components[name]["properties"]
        for field in ("id", "txid", "block_hash", "deposit_txid", "keystone_id"):
            if field in props:
                assert "DISPLAY byte order" in json.dumps(props[field]), (name, field)
    assert "EVM order" in json.dumps(components["BlockDetail"]["properties"]["hash"])


def test_swagger_ui_has_no_inline_script_or_style_and_uses_vendored_assets(client, db):
    html = client.get("/api/docs/").content.decode()
    assert 'id="swagger-ui"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline <script>"
    assert "<style" not in html and "style=" not in html and " on" not in re.sub(r"\s+", " ", html).replace("\n", "")
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") and not s.startswith("//") for s in sources), sources
    script = [s for s in sources if "script" in s and s.startswith("/api/docs/")]
    assert script, sources
    init = client.get(script[0].replace("&amp;", "&"))
    assert (
        init.status_code == 200 and "javascript" in init["Content-Type"] and "SwaggerUIBundle" in init.content.decode()
    )
