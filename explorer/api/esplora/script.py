"""Scripts as Esplora prints them: ``*_asm`` text and ``scriptpubkey_type`` (pure, no Django).

Esplora's asm is rust-bitcoin's: pushes are ``OP_PUSHBYTES_<n> <hex>`` (``OP_PUSHDATA1/2/4
<hex>`` for the longer forms), small numbers ``OP_PUSHNUM_<n>``, ``OP_0`` for the empty push,
and a script that ends inside a push ends with ``<unexpected end>``. Opcode names come from
python-bitcoinlib's table; the few where rust-bitcoin's names differ are renamed here.
"""

from __future__ import annotations

from bitcoin.core.script import OPCODE_NAMES

_RENAMED = {0x4F: "OP_PUSHNUM_NEG1", 0xB1: "OP_CLTV", 0xB2: "OP_CSV"}
_NAMES = {int(op): name for op, name in OPCODE_NAMES.items()}
_NAMES.update({0x50 + n: f"OP_PUSHNUM_{n}" for n in range(1, 17)})
_NAMES.update(_RENAMED)


def _name(op: int) -> str:
    # rust-bitcoin prints an opcode with no meaning in legacy script as OP_RETURN_<n>.
    return _NAMES.get(op) if op in _NAMES and op < 0xBA else f"OP_RETURN_{op}"


class Truncated(Exception):
    """The script ends inside a push."""


def ops(script: bytes):
    """(opcode, pushed data or None) in order; ``Truncated`` where a push runs past the end."""
    pos, end = 0, len(script)
    while pos < end:
        op = script[pos]
        pos += 1
        if op == 0 or op > 0x4E:
            yield op, (b"" if op == 0 else None)
            continue
        size = op
        if op >= 0x4C:
            width = {0x4C: 1, 0x4D: 2, 0x4E: 4}[op]
            if pos + width > end:
                raise Truncated
            size = int.from_bytes(script[pos : pos + width], "little")
            pos += width
        if pos + size > end:
            raise Truncated
        yield op, script[pos : pos + size]
        pos += size


def asm(script: bytes) -> str:
    out: list[str] = []
    try:
        for op, data in ops(script):
            if op == 0:
                out.append("OP_0")
            elif data is None:
                out.append(_name(op))
            else:
                label = f"OP_PUSHBYTES_{op}" if op < 0x4C else _NAMES[op]
                out.append(f"{label} {data.hex()}")
    except Truncated:
        out.append("<unexpected end>")
    return " ".join(out)


def last_push(script: bytes) -> bytes | None:
    """The data of a scriptSig's last operation if it is a push (a P2SH redeem script)."""
    try:
        found = list(ops(script))
    except Truncated:
        return None
    return found[-1][1] if found and found[-1][1] else None


def script_type(script: bytes) -> str:
    """Esplora's ``scriptpubkey_type``: p2pk, p2pkh, p2sh, v0_p2wpkh, v0_p2wsh, v1_p2tr,
    op_return, multisig, empty or unknown."""
    n = len(script)
    if n == 0:
        return "empty"
    if script[0] == 0x6A:
        return "op_return"
    if n == 25 and script[:3] == b"\x76\xa9\x14" and script[23:] == b"\x88\xac":
        return "p2pkh"
    if n == 23 and script[:2] == b"\xa9\x14" and script[22] == 0x87:
        return "p2sh"
    if n == 22 and script[:2] == b"\x00\x14":
        return "v0_p2wpkh"
    if n == 34 and script[:2] == b"\x00\x20":
        return "v0_p2wsh"
    if n == 34 and script[:2] == b"\x51\x20":
        return "v1_p2tr"
    if ((n == 35 and script[0] == 0x21) or (n == 67 and script[0] == 0x41)) and script[-1] == 0xAC:
        return "p2pk"
    if n >= 37 and script[-1] == 0xAE and 0x51 <= script[0] <= 0x60 and 0x51 <= script[-2] <= 0x60:
        return "multisig"
    return "unknown"
