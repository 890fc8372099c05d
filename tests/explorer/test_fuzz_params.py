"""Fuzz targets for the request parameter parsers: any text a URL can carry is parsed or refused
with BadParameter (a 400), and no route answers a malformed parameter with a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from explorer.params import BadParameter, parse_address, parse_evm_hash, parse_hex
from tests.fuzzing import FUZZ, only_raises

HEX = "0123456789abcdefABCDEF"
# Hex-looking text with the characters that slip through loose parsers: prefixes, signs,
# whitespace, underscores, non-ASCII digits and letters.
parameters = st.one_of(
    st.text(max_size=80),
    st.text(alphabet=HEX + "xX \t\n_-+\u0663\uff11\u00e9", max_size=70),
    st.sampled_from(["0x", "0X", ""]).flatmap(lambda p: st.text(alphabet=HEX, min_size=38, max_size=66).map(p.__add__)),
)


@pytest.mark.fuzz
@FUZZ
@given(parameters, st.integers(0, 40))
def test_parsers_return_bytes_or_raise_bad_parameter(text, size):
    for parse, args in ((parse_hex, (text, size, "a value")), (parse_evm_hash, (text,)), (parse_address, (text,))):
        result = only_raises(parse, BadParameter, *args)
        assert result is None or isinstance(result, bytes)


ROUTES = [
    "/provenance/mint/{}",
    "/provenance/mint/{}.json",
    "/provenance/mint/{}/evidence",
    "/provenance/token/{}",
    "/provenance/address/{}",
    "/api/v1/provenance/mint/{}",
]


@pytest.mark.fuzz
@FUZZ
@given(st.sampled_from(ROUTES), parameters.filter(lambda t: t not in (".", "..")))
def test_no_route_answers_a_malformed_parameter_with_a_server_error(client, db, route, text):
    response = client.get(route.format(quote(text, safe="")))
    # A page, a redirect to its new home, a 400 naming the parameter, a 404 or a 409: never a 5xx.
    assert response.status_code in (200, 301, 302, 400, 404, 409), (route, text, response.status_code)
