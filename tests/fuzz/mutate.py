"""Structure-aware mutations of Huren's inputs: DER, JSON, compact JWS, SD-JWT, HR1 QR payloads, PDF, form bodies.

Every mutator is a pure function ``mutate(data, rng) -> bytes`` of a valid seed and a :class:`random.Random`, so the
same code drives Hypothesis (``st.randoms()``: the random choices are Hypothesis draws, and shrink) and atheris (a
custom mutator seeded by libFuzzer). One call applies one to four operations, chosen among the byte-level ones
(bit flips, byte values, truncation, insertion, deletion, duplication, trailing garbage) and the ones that know the
format:

* **DER** (:func:`mutate_der`): the input is read as a TLV tree (encapsulated DER inside OCTET and BIT STRINGs
  too) and one node is changed and the tree re-encoded with correct lengths — content bit flips, huge, negative
  and non-minimal INTEGERs, odd times and OIDs, control characters in strings, deleted, duplicated, swapped and
  spliced nodes, changed tags, nesting thousands deep — or the raw bytes of one header are edited (length fields
  too long, too short, huge, non-minimal or indefinite) without fixing anything around it.
* **JSON** (:func:`mutate_json`): a value anywhere in the document is replaced (huge and non-finite numbers, long
  and control-character strings, lone surrogates, wrong types, nesting 100,000 deep), a member deleted, added or
  **duplicated** (the raw text carries the key twice); strings that hold base64 DER or JSON are decoded, mutated
  and re-encoded (nested re-encoding: a certificate in ``x5c``, a signed document's payload).
* **JWS / SD-JWT / QR**: parts are decoded and mutated as JSON or bytes and re-encoded; parts are dropped,
  duplicated, swapped, re-padded; SD-JWT disclosures are dropped, repeated, reordered and mutated; an HR1 payload
  is re-packed after its JWS is mutated, or re-compressed differently (trailing data, a deflate bomb).
* **PDF** (:func:`mutate_pdf`): numbers (``/ByteRange``, ``/Length``, xref offsets, ``startxref``) changed, names
  swapped, arrays nested deeply, the CMS in ``/Contents`` decoded, DER-mutated and written back in the same width
  (so the signed bytes stay where they were), incremental updates appended.
"""

from __future__ import annotations

import base64
import json
import random
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

Mutator = Callable[[bytes, random.Random], bytes]

MAX_NODES: Final = 4000
"""DER nodes read from one input (a mutation needs only a sample; huge inputs are mutated at the byte level)."""
MAX_DEPTH: Final = 60

INTERESTING_BYTES: Final = (0x00, 0x01, 0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0xFF, 0x30, 0x31, 0x04, 0x03, 0xA0)


# --- bytes ----------------------------------------------------------------------------------------------------


def _position(data: bytes, rng: random.Random) -> int:
    return rng.randrange(len(data)) if data else 0


def _junk(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    if kind == 1:
        return bytes([rng.choice(INTERESTING_BYTES)]) * rng.randrange(1, 64)
    if kind == 2:
        return b"\x30\x80" * rng.randrange(1, 400)  # indefinite-length SEQUENCEs, nested
    return rng.choice([b"\x00", b"\xff\xff\xff\xff", b"%%EOF\n", b"\n", b"\r\n", b"~", b".", b'"', b"\\u0000"])


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One byte-level operation."""
    if not data:
        return _junk(rng)
    buffer = bytearray(data)
    op = rng.randrange(8)
    at = _position(data, rng)
    if op == 0:
        buffer[at] ^= 1 << rng.randrange(8)
    elif op == 1:
        buffer[at] = rng.choice(INTERESTING_BYTES)
    elif op == 2:
        return bytes(buffer[:at])
    elif op == 3:
        return bytes(buffer[:at] + _junk(rng) + buffer[at:])
    elif op == 4:
        end = min(len(buffer), at + rng.randrange(1, 64))
        del buffer[at:end]
    elif op == 5:
        end = min(len(buffer), at + rng.randrange(1, 256))
        return bytes(buffer[:end] + buffer[at:end] + buffer[end:])
    elif op == 6:
        return bytes(buffer) + _junk(rng)
    else:
        for _ in range(rng.randrange(2, 9)):
            buffer[_position(data, rng)] ^= rng.randrange(1, 256)
    return bytes(buffer)


# --- DER ------------------------------------------------------------------------------------------------------


class DerError(ValueError):
    pass


def der_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der_header(data: bytes, at: int) -> tuple[int, int, int]:
    """``(tag length, header length, content length)`` of the TLV at ``at`` (definite lengths only; long tags and
    non-minimal lengths are read as they are)."""
    if at >= len(data):
        raise DerError("no tag")
    tag_len = 1
    if data[at] & 0x1F == 0x1F:
        while True:
            if at + tag_len >= len(data):
                raise DerError("truncated tag")
            tag_len += 1
            if not data[at + tag_len - 1] & 0x80:
                break
            if tag_len > 6:
                raise DerError("tag too long")
    pos = at + tag_len
    if pos >= len(data):
        raise DerError("no length")
    first = data[pos]
    if first < 0x80:
        return tag_len, tag_len + 1, first
    if first == 0x80 and data[at] & 0x20:  # BER indefinite length: the content ends with the end-of-contents octets
        inner = pos + 1
        try:
            while data[inner : inner + 2] != b"\x00\x00":
                _t, header, length = der_header(data, inner)
                inner += header + length
                if inner > len(data):
                    raise DerError("indefinite content runs past the end")
        except RecursionError:
            raise DerError("indefinite lengths nested too deep") from None
        return tag_len, tag_len + 1, inner + 2 - (pos + 1)
    count = first & 0x7F
    if count == 0 or count > 4 or pos + 1 + count > len(data):
        raise DerError("unsupported length")
    return tag_len, tag_len + 1 + count, int.from_bytes(data[pos + 1 : pos + 1 + count], "big")


def der_children(data: bytes) -> list[bytes]:
    """The TLVs that make up ``data`` exactly (raises :class:`DerError` if they do not)."""
    out: list[bytes] = []
    at = 0
    while at < len(data):
        _tag_len, header, length = der_header(data, at)
        end = at + header + length
        if end > len(data):
            raise DerError("content runs past the end")
        out.append(data[at:end])
        at = end
    return out


def der_content(tlv: bytes) -> bytes:
    _tag_len, header, length = der_header(tlv, 0)
    if header + length != len(tlv):
        raise DerError("not one TLV")
    if tlv[_tag_len] == 0x80:
        return tlv[header:-2]  # without the end-of-contents octets
    return tlv[header:]


@dataclass
class Node:
    tag: bytes
    content: bytes = b""
    children: list[Node] | None = None
    wrapper: str = ""  # "" | "octet" (content is DER) | "bit" (content is 0x00 + DER)
    header: bytes | None = None  # raw header override (a non-minimal or wrong length), else computed
    trailer: bytes = b""
    raw: bytes | None = None  # the whole TLV as it is (a deep nest built without recursion)

    def body(self) -> bytes:
        if self.children is None:
            return self.content
        body = b"".join(child.encode() for child in self.children)
        return b"\x00" + body if self.wrapper == "bit" else body

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        body = self.body()
        header = self.header if self.header is not None else self.tag + der_length(len(body))
        return header + body + self.trailer


@dataclass
class _Budget:
    nodes: int = 0
    all: list[Node] = field(default_factory=list)


def parse_tree(data: bytes, budget: _Budget | None = None, depth: int = 0) -> list[Node]:
    budget = budget if budget is not None else _Budget()
    nodes: list[Node] = []
    for tlv in der_children(data):
        budget.nodes += 1
        if budget.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise DerError("too many nodes")
        tag_len, header, _length = der_header(tlv, 0)
        tag, content = tlv[:tag_len], tlv[header:]
        node = Node(tag, content)
        if tag[0] & 0x20 and content:
            try:
                node.children = parse_tree(content, budget, depth + 1)
            except DerError:
                node.children = None
        elif tag[0] in (0x04, 0x03) and len(content) > 2:
            inner, wrapper = (content, "octet") if tag[0] == 0x04 else (content[1:], "bit")
            if inner[:1] in (b"\x30", b"\x31") and (tag[0] == 0x04 or content[0] == 0):
                try:
                    node.children, node.wrapper = parse_tree(inner, budget, depth + 1), wrapper
                except DerError:
                    node.children = None
        budget.all.append(node)
        nodes.append(node)
    return nodes


def _huge_integer(rng: random.Random) -> bytes:
    kind = rng.randrange(6)
    if kind == 0:
        return b"\x00" * rng.randrange(2, 40) + b"\x01"  # non-minimal
    if kind == 1:
        return b"\xff" * rng.randrange(1, 2000)  # negative, long
    if kind == 2:
        return b"\x7f" + b"\xff" * rng.randrange(1, 5000)  # huge
    if kind == 3:
        return b""
    if kind == 4:
        return b"\x80"
    return rng.randrange(1 << 64).to_bytes(8, "big")


_TIMES: Final = (
    b"",
    b"000000000000Z",
    b"991332256161Z",
    b"20991231235960Z",
    b"99999999999999Z",
    b"2024010100000",
    b"20240101000000+0800",
    b"20240101000000.9999999999Z",
    b"\x00" * 13,
    b"-1",
)
_TEXTS: Final = (
    b"\x1b[32mTOTAL-PASSED\x1b[0m",
    "\u202ecod.exe".encode(),
    b"\x00",
    b"\xff\xfe",
    b"\xed\xa0\x80",  # a UTF-8-encoded lone surrogate
    "互认".encode("utf-16-be"),
    b"A" * 70000,
)


def _mutate_node(  # noqa: C901, PLR0912 - one branch per operation
    node: Node, nodes: list[Node], rng: random.Random, siblings: list[Node], index: int
) -> None:
    op = rng.randrange(15)
    tag = node.tag[0]
    if op == 0 and node.children is None and node.content:
        content = bytearray(node.content)
        content[rng.randrange(len(content))] ^= 1 << rng.randrange(8)
        node.content = bytes(content)
    elif op == 1:
        node.children, node.content = None, _huge_integer(rng) if tag == 0x02 or rng.randrange(2) else b""
    elif op == 2 and tag in (0x17, 0x18):
        node.content = rng.choice(_TIMES)
    elif op == 3:
        node.children = None
        node.content = rng.choice(
            [b"\x2a" + b"\xff" * rng.randrange(1, 300) + b"\x01", b"", b"\x80\x01", b"\x2a\x86\x48\x86\xf7\x0d"]
        )
        node.tag = b"\x06"
    elif op == 4 and tag in (0x0C, 0x13, 0x16, 0x1E, 0x14, 0x1A):
        node.children, node.content = None, rng.choice(_TEXTS)
    elif op == 5 and len(siblings) > 0:
        del siblings[index]
    elif op == 6:
        siblings.insert(index, Node(node.tag, raw=node.encode()))
    elif op == 7:
        other = rng.choice(nodes)  # possibly an ancestor: copied as bytes, never linked (no cycle)
        siblings[index] = Node(other.tag, raw=other.encode())
    elif op == 8:
        depth = rng.choice([2, 10, 100, 1000, 3000])
        wrapped = node.encode()
        for _ in range(depth):
            wrapped = b"\x30" + der_length(len(wrapped)) + wrapped
        siblings[index] = Node(b"\x30", raw=wrapped)
    elif op == 9:
        node.tag = bytes([rng.choice([tag ^ 0x20, tag ^ 0x80, tag ^ 0x40, rng.randrange(256), 0x1F, 0x00])])
        if node.tag[0] & 0x1F == 0x1F:
            node.tag += b"\x81\x01"
    elif op == 10:
        node.header = node.tag + b"\x84" + len(node.body()).to_bytes(4, "big")  # non-minimal long form
    elif op == 11:
        node.header, node.trailer = bytes([node.tag[0] | 0x20]) + node.tag[1:] + b"\x80", b"\x00\x00"  # BER
    elif op == 12 and node.children is None:
        cut = rng.randrange(len(node.content) + 1)
        node.content = node.content[:cut] if rng.randrange(2) else node.content + _junk(rng)
    elif op == 13 and node.children:
        rng.shuffle(node.children)
    else:
        length = len(node.body())
        wrong = rng.choice([0, 1, length + 1, length - 3, 0x7FFFFFFF, 0xFFFFFFFF, 127, 128])
        node.header = node.tag + der_length(max(0, wrong))


def mutate_der(data: bytes, rng: random.Random) -> bytes:
    """One DER-aware operation (or a byte-level one when ``data`` is not DER)."""
    if rng.randrange(5) == 0:
        return mutate_bytes(data, rng)
    budget = _Budget()
    try:
        roots = parse_tree(data, budget)
    except DerError:
        return mutate_bytes(data, rng)
    if not budget.all:
        return mutate_bytes(data, rng)
    target = rng.choice(budget.all)
    # find the list that holds the node, to delete, duplicate or replace it in place
    holders: list[list[Node]] = [roots]
    holders.extend(n.children for n in budget.all if n.children)
    for holder in holders:
        for index, node in enumerate(holder):
            if node is target:
                _mutate_node(node, budget.all, rng, holder, index)
                return b"".join(n.encode() for n in roots)
    return mutate_bytes(data, rng)  # pragma: no cover - every node has a holder


# --- JSON -----------------------------------------------------------------------------------------------------


@dataclass
class Raw:
    """JSON text written verbatim (a number JSON cannot hold, deep nesting, an invalid escape)."""

    text: str


@dataclass
class Pairs:
    """An object whose members may repeat (duplicate keys)."""

    items: list[tuple[str, Any]]


def dumps(value: Any) -> str:
    if isinstance(value, Raw):
        return value.text
    if isinstance(value, Pairs):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items) + "}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _odd_value(rng: random.Random) -> Any:
    return rng.choice(
        [
            lambda: None,
            lambda: True,
            lambda: 0,
            lambda: -1,
            lambda: 2**63,
            lambda: Raw("1" + "0" * rng.choice([20, 400, 5000])),
            lambda: Raw(rng.choice(["1e999", "-1e999", "NaN", "Infinity", "-0", "1.5", "1E400", "0.0000001"])),
            lambda: "",
            lambda: "x" * rng.choice([300, 70000]),
            lambda: Raw('"\\ud800"'),
            lambda: Raw('"\\u0000\\u001b[31m\\u202e"'),
            lambda: [],
            lambda: {},
            lambda: Raw("[" * (n := rng.choice([100, 1000, 50000])) + "]" * n),
            lambda: Raw('{"a":' * (n := rng.choice([100, 3000])) + "1" + "}" * n),
            lambda: rng.choice(["RS256", "none", "HS256", "SM2", "ES256", "EdDSA", "PS512"]),
            lambda: ["a", 1, None],
        ]
    )()


def _paths(value: Any, prefix: tuple[Any, ...] = (), out: list[tuple[Any, ...]] | None = None) -> list[tuple[Any, ...]]:
    out = out if out is not None else []
    out.append(prefix)
    if len(out) > 2000:
        return out
    if isinstance(value, dict):
        for key, item in value.items():
            _paths(item, (*prefix, key), out)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _paths(item, (*prefix, index), out)
    return out


def _get(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def _decode_b64(text: str) -> tuple[bytes, str] | None:
    """``text`` decoded as standard or URL-safe base64, and which one; ``None`` if it is neither."""
    if len(text) < 8:
        return None
    try:
        if re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", text):
            return base64.b64decode(text, validate=True), "std"
        if re.fullmatch(r"[A-Za-z0-9_-]+", text):
            return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "url"
    except ValueError:
        return None
    return None


def _encode_b64(data: bytes, alphabet: str) -> str:
    if alphabet == "std":
        return base64.b64encode(data).decode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _mutate_string(text: str, rng: random.Random) -> Any:
    """A string mutated in place, or through what it encodes (base64 DER or JSON)."""
    decoded = _decode_b64(text)
    if decoded is not None and rng.randrange(3):
        raw, alphabet = decoded
        if raw[:1] == b"\x30":
            return _encode_b64(mutate_der(raw, rng), alphabet)
        if raw[:1] in (b"{", b"["):
            return _encode_b64(mutate_json(raw, rng), alphabet)
        return _encode_b64(mutate_bytes(raw, rng), alphabet)
    if not text:
        return _odd_value(rng)
    chars = list(text)
    at = rng.randrange(len(chars))
    op = rng.randrange(4)
    if op == 0:
        chars[at] = rng.choice(["\x00", "\u202e", "\u2028", "~", ".", "=", " ", "\ufeff", "é", "+", "/"])
    elif op == 1:
        del chars[at]
    elif op == 2:
        chars.insert(at, chars[at] * rng.choice([1, 100]))
    else:
        return text.upper() if text != text.upper() else text.lower()
    return "".join(chars)


def mutate_value(document: Any, rng: random.Random) -> Any:
    """One operation on a parsed JSON value (returns the new document; may contain :class:`Raw`/:class:`Pairs`)."""
    paths = _paths(document)
    path = rng.choice(paths)
    target = _get(document, path)
    op = rng.randrange(7)
    new: Any
    if op == 0 and isinstance(target, str):
        new = _mutate_string(target, rng)
    elif op == 1 and isinstance(target, dict) and target:
        key = rng.choice(list(target))
        items = list(target.items())
        duplicate = (key, _odd_value(rng) if rng.randrange(2) else target[key])
        items.insert(rng.randrange(len(items) + 1), duplicate)
        new = Pairs(items)  # the key twice
    elif op == 2 and isinstance(target, dict) and target:
        new = dict(target)
        del new[rng.choice(list(new))]
    elif op == 3 and isinstance(target, dict):
        new = {**target, rng.choice(["crit", "x5c", "jku", "kid", "b64", "_sd", "...", "zip", ""]): _odd_value(rng)}
    elif op == 4 and isinstance(target, list) and target:
        new = list(target)
        choice = rng.randrange(3)
        if choice == 0:
            del new[rng.randrange(len(new))]
        elif choice == 1:
            new.append(rng.choice(new))
        else:
            rng.shuffle(new)
    elif op == 5 and isinstance(target, int | float) and not isinstance(target, bool):
        new = rng.choice(
            [target + 1, target - 1, -target, Raw(str(target) + ".0"), Raw(str(target) + "e0"), str(target)]
        )
    else:
        new = _odd_value(rng)
    if not path:
        return new
    parent = _get(document, path[:-1])
    if isinstance(parent, dict):
        parent = {k: (new if k == path[-1] else v) for k, v in parent.items()}
    else:
        parent = [new if i == path[-1] else v for i, v in enumerate(parent)]
    return _set(document, path[:-1], parent)


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    parent = _get(document, path[:-1])
    if isinstance(parent, dict):
        replaced: Any = {k: (value if k == path[-1] else v) for k, v in parent.items()}
    else:
        replaced = [value if i == path[-1] else v for i, v in enumerate(parent)]
    return _set(document, path[:-1], replaced)


def mutate_json(data: bytes, rng: random.Random) -> bytes:
    """One JSON-aware operation (or a byte-level one)."""
    if rng.randrange(6) == 0:
        return mutate_bytes(data, rng)
    try:
        document = json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return mutate_bytes(data, rng)
    try:
        text = dumps(mutate_value(document, rng))
    except RecursionError:  # a document nested nearly as deep as the parser allows
        return mutate_bytes(data, rng)
    if rng.randrange(8) == 0:
        text = rng.choice(["\ufeff", " \n", ""]) + text + rng.choice(["", "\n", " x", "{}", "\x00"])
    return text.encode("utf-8", "surrogatepass")


# --- JWS, SD-JWT, QR ----------------------------------------------------------------------------------------


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64u(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        return None


def _mutate_segment(segment: str, rng: random.Random, kind: str) -> str:
    raw = _unb64u(segment)
    op = rng.randrange(6)
    if raw is None or op == 0:
        return _mutate_string(segment, rng) if segment else "A"
    if op == 1:
        return segment + rng.choice(["=", "==", "A", "AA", "+", "/", " "])  # non-canonical or invalid base64url
    if kind == "json" or raw[:1] in (b"{", b"["):
        return _b64u(mutate_json(raw, rng))
    return _b64u(mutate_bytes(raw, rng))


def mutate_jws(data: bytes, rng: random.Random) -> bytes:
    """One operation on a compact JWS (header and payload as JSON, the signature as bytes, or the parts)."""
    text = data.decode("ascii", "replace")
    parts = text.split(".")
    if len(parts) != 3 or rng.randrange(10) == 0:
        return mutate_bytes(data, rng)
    op = rng.randrange(9)
    if op < 3:
        parts[0] = _mutate_segment(parts[0], rng, "json")
    elif op < 6:
        parts[1] = _mutate_segment(parts[1], rng, "json")
    elif op == 6:
        parts[2] = _mutate_segment(parts[2], rng, "bytes")
    elif op == 7:
        choice = rng.randrange(4)
        if choice == 0:
            parts.pop(rng.randrange(3))
        elif choice == 1:
            parts.insert(rng.randrange(4), rng.choice(parts))
        elif choice == 2:
            parts[2] = ""
        else:
            parts[0], parts[1] = parts[1], parts[0]
    else:
        header = _unb64u(parts[0]) or b"{}"
        try:
            members = json.loads(header)
        except (ValueError, RecursionError):
            members = {}
        if isinstance(members, dict):
            members["alg"] = rng.choice(["none", "HS256", "RS256", "ES256", "SM2", "PS256", "ES512", "EdDSA", ""])
            parts[0] = _b64u(json.dumps(members).encode())
    return ".".join(parts).encode("ascii", "replace")


def mutate_sd_jwt(data: bytes, rng: random.Random) -> bytes:
    """One operation on an SD-JWT (compact): the issuer JWS, a disclosure, the KB-JWT, or the list itself."""
    text = data.decode("ascii", "replace")
    parts = text.split("~")
    if len(parts) < 2 or rng.randrange(10) == 0:
        return mutate_bytes(data, rng)
    issuer, disclosures, kb = parts[0], parts[1:-1], parts[-1]
    op = rng.randrange(8)
    if op == 0:
        issuer = mutate_jws(issuer.encode(), rng).decode("ascii", "replace")
    elif op in (1, 2) and disclosures:
        at = rng.randrange(len(disclosures))
        disclosures[at] = _mutate_segment(disclosures[at], rng, "json")
    elif op == 3 and disclosures:
        del disclosures[rng.randrange(len(disclosures))]
    elif op == 4 and disclosures:
        disclosures.insert(rng.randrange(len(disclosures) + 1), rng.choice(disclosures))
    elif op == 5:
        rng.shuffle(disclosures)
    elif op == 6 and kb:
        kb = mutate_jws(kb.encode(), rng).decode("ascii", "replace")
    else:
        extra = rng.choice(
            [
                _b64u(json.dumps(["salt", "license", {"id": "x"}]).encode()),
                _b64u(json.dumps(["salt", "...", "x"]).encode()),
                _b64u(json.dumps(["salt", "_sd", ["x"]]).encode()),
                _b64u(b"[" * 2000 + b"]" * 2000),
                "",
            ]
        )
        disclosures.append(extra)
    return "~".join([issuer, *disclosures, kb]).encode("ascii", "replace")


def _qr_unpack(text: str) -> bytes | None:
    import base45

    if not text.startswith("HR1:"):
        return None
    try:
        return zlib.decompress(base45.b45decode(text[4:]))
    except (ValueError, zlib.error):
        return None


def mutate_qr(data: bytes, rng: random.Random) -> bytes:
    """One operation on an HR1 QR payload: its JWS mutated and re-packed, the packing edited, or the text itself."""
    import base45

    text = data.decode("ascii", "replace").strip()
    packed = _qr_unpack(text)
    op = rng.randrange(6)
    if packed is None or op == 0:
        chars = list(text) or ["H"]
        chars[rng.randrange(len(chars))] = rng.choice("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:a")
        return "".join(chars).encode()
    if op == 1:
        h_len = int.from_bytes(packed[:2], "big")
        header = packed[2 : 2 + h_len]
        p_len = int.from_bytes(packed[2 + h_len : 4 + h_len], "big")
        payload = packed[4 + h_len : 4 + h_len + p_len]
        signature = packed[4 + h_len + p_len :]
        jws = f"{_b64u(header)}.{_b64u(payload)}.{_b64u(signature)}".encode()
        parts = mutate_jws(jws, rng).split(b".")
        if len(parts) == 3:
            raw = [_unb64u(p.decode("ascii", "replace")) or b"" for p in parts]
            raw[0], raw[1] = raw[0][:0xFFFF], raw[1][:0xFFFF]  # the packed form's lengths are two octets
            packed = len(raw[0]).to_bytes(2, "big") + raw[0] + len(raw[1]).to_bytes(2, "big") + raw[1] + raw[2]
        else:
            packed = mutate_bytes(packed, rng)
    elif op == 2:
        packed = mutate_bytes(packed, rng)
    elif op == 3:
        compressed = zlib.compress(packed) + rng.choice([b"x", b"\x00" * 8, zlib.compress(b"more")])
        return ("HR1:" + base45.b45encode(compressed).decode()).encode()
    elif op == 4:
        bomb = zlib.compress(packed + b"\x00" * rng.choice([70000, 10_000_000]), 9)
        return ("HR1:" + base45.b45encode(bomb).decode()).encode()
    else:
        wrong = rng.choice([0, 1, 0xFFFF, min(len(packed), 0xFFFF)])  # a length field holds two bytes
        packed = wrong.to_bytes(2, "big") + packed[2:]
    return ("HR1:" + base45.b45encode(zlib.compress(packed, 9)).decode()).encode()


# --- PDF -----------------------------------------------------------------------------------------------------

_NUMBER = re.compile(rb"(?<![0-9A-Za-z.#/])-?[0-9]{1,12}(?![0-9A-Za-z.])")
_NAMES: Final = (
    b"/Sig",
    b"/DocTimeStamp",
    b"/ETSI.CAdES.detached",
    b"/adbe.pkcs7.detached",
    b"/adbe.pkcs7.sha1",
    b"/ETSI.RFC3161",
    b"/Annot",
    b"/Widget",
    b"/XObject",
    b"/Catalog",
    b"/Page",
    b"/DocMDP",
    b"/FieldMDP",
    b"/Perms",
    b"/DSS",
    b"/Prev",
    b"/XRefStm",
    b"/ObjStm",
    b"/FlateDecode",
)


def _pdf_number(data: bytes, rng: random.Random) -> bytes:
    region = rng.randrange(4)
    if region == 0:  # near the signature dictionaries
        anchors = [m.start() for m in re.finditer(rb"/ByteRange|/Contents|/Length|/Size|/Prev", data)]
    elif region == 1:
        anchors = [m.start() for m in re.finditer(rb"startxref|xref", data)]
    else:
        anchors = []
    window = (anchors[rng.randrange(len(anchors))], 200) if anchors else (0, len(data))
    matches = list(_NUMBER.finditer(data, window[0], min(len(data), window[0] + window[1])))
    if not matches:
        return mutate_bytes(data, rng)
    match = rng.choice(matches)
    value = int(match.group())
    new = rng.choice([0, -1, value + 1, value - 1, value * 2, 2**31, 2**63, 10**20, len(data), len(data) + 100])
    return data[: match.start()] + str(new).encode() + data[match.end() :]


def _pdf_contents(data: bytes, rng: random.Random) -> bytes:
    """The CMS of one ``/Contents <hex>`` DER-mutated and written back in the same width (zero-padded)."""
    spans = list(re.finditer(rb"/Contents\s*<([0-9A-Fa-f]+)>", data))
    if not spans:
        return mutate_bytes(data, rng)
    match = rng.choice(spans)
    hexed = match.group(1)
    try:
        raw = bytes.fromhex(hexed[: len(hexed) // 2 * 2].decode())
    except ValueError:
        return mutate_bytes(data, rng)
    try:
        _tag, header, length = der_header(raw, 0)
        der = raw[: header + length]
    except DerError:
        der = raw
    mutated = mutate_der(der, rng).hex().encode()
    if len(mutated) > len(hexed):
        mutated = mutated[: len(hexed)]
    mutated = mutated.ljust(len(hexed), b"0")
    return data[: match.start(1)] + mutated + data[match.end(1) :]


def _pdf_update(data: bytes, rng: random.Random) -> bytes:
    """An incremental update that redefines an object of the file (its body mutated) or adds a new one."""
    objects = list(re.finditer(rb"(?<![0-9])(\d+) 0 obj\s*(.*?)\s*endobj", data[-400_000:], re.S))
    tail = data if data.endswith(b"\n") else data + b"\n"
    starts = re.findall(rb"startxref\s+(\d+)", data)
    previous = int(starts[-1]) if starts else 0
    if objects and rng.randrange(4):
        chosen = rng.choice(objects)
        number, body = int(chosen.group(1)), chosen.group(2)
        body = mutate_bytes(body, rng) if rng.randrange(2) else body.replace(b"/Sig", b"/Annot")
    else:
        number, body = 9999, rng.choice([b"<< /Type /Catalog /Pages 2 0 R >>", b"[" * 5000 + b"]" * 5000, b"null"])
    offset = len(tail)
    update = b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = offset + len(update)
    root = re.findall(rb"/Root\s+(\d+)\s+0\s+R", data)
    size = max(number + 1, 10000 if number == 9999 else 0)
    trailer = b"<< /Size %d /Root %s 0 R /Prev %d >>" % (size, root[-1] if root else b"1", previous)
    xref = b"xref\n%d 1\n%010d 00000 n \ntrailer\n" % (number, offset) + trailer
    return tail + update + xref + b"\nstartxref\n%d\n%%%%EOF\n" % xref_at


def mutate_pdf(data: bytes, rng: random.Random) -> bytes:
    """One PDF-aware operation (or a byte-level one)."""
    op = rng.randrange(8)
    if op == 0:
        return _pdf_number(data, rng)
    if op == 1:
        return _pdf_contents(data, rng)
    if op == 2:
        return _pdf_update(data, rng)
    if op == 3:
        name = rng.choice(_NAMES)
        found = [m.start() for m in re.finditer(re.escape(name), data)]
        if found:
            at = rng.choice(found)
            return data[:at] + rng.choice(_NAMES) + data[at + len(name) :]
    if op == 4:
        at = _position(data, rng)
        return data[:at] + b"[" * 20000 + data[at:]
    if op == 5:  # flips concentrated around the signature and the cross-reference data
        anchors = [m.start() for m in re.finditer(rb"/ByteRange|/Contents|/Sig\b|startxref|trailer|/AcroForm", data)]
        if anchors:
            buffer = bytearray(data)
            at = min(len(buffer) - 1, rng.choice(anchors) + rng.randrange(-50, 200))
            buffer[max(0, at)] ^= 1 << rng.randrange(8)
            return bytes(buffer)
    return mutate_bytes(data, rng)


# --- form bodies ---------------------------------------------------------------------------------------------


def mutate_form(data: bytes, rng: random.Random) -> bytes:
    """One operation on an ``application/x-www-form-urlencoded`` body (values decoded and mutated, fields dropped,
    repeated or added)."""
    from urllib.parse import parse_qsl, urlencode

    pairs = parse_qsl(data.decode("ascii", "replace"), keep_blank_values=True)
    if not pairs or rng.randrange(6) == 0:
        return mutate_bytes(data, rng)
    op = rng.randrange(5)
    at = rng.randrange(len(pairs))
    key, value = pairs[at]
    if op == 0:
        new = mutate_jws(value.encode(), rng).decode("ascii", "replace") if value.count(".") == 2 else None
        pairs[at] = (key, new if new is not None else _mutate_string(value, rng) if value else "x")
    elif op == 1:
        del pairs[at]
    elif op == 2:
        pairs.insert(at, (key, value if rng.randrange(2) else "other"))
    elif op == 3:
        pairs.append((rng.choice(["client_id", "scope", "grant_type", "x" * 300]), "y" * rng.choice([1, 10000])))
    else:
        pairs[at] = (key, str(_odd_value(rng)))
    return urlencode(pairs).encode()


# --- HTTP requests ------------------------------------------------------------------------------------------


def _mutate_request(body_mutator: Mutator) -> Mutator:
    """Seeds of the HTTP targets are ``METHOD path\n<body>``: the body is mutated, now and then the path."""

    def mutate_request(data: bytes, rng: random.Random) -> bytes:
        head, _, body = data.partition(b"\n")
        if rng.randrange(12) == 0:
            head = head + rng.choice([b"/x", b"?a=1", b"%00", b"/../verify", b"/" + b"A" * 300])
        return head + b"\n" + body_mutator(body, rng)

    return mutate_request


# --- the mutators by name ------------------------------------------------------------------------------------

MUTATORS: Final[dict[str, Mutator]] = {
    "bytes": mutate_bytes,
    "der": mutate_der,
    "json": mutate_json,
    "jws": mutate_jws,
    "sd-jwt": mutate_sd_jwt,
    "qr": mutate_qr,
    "pdf": mutate_pdf,
    "form": mutate_form,
    "http-json": _mutate_request(mutate_json),
    "http-form": _mutate_request(mutate_form),
}


def mutate(kind: str, data: bytes, rng: random.Random, *, rounds: int | None = None) -> bytes:
    """``data`` after one to four operations of the ``kind`` mutator (and, now and then, a byte-level one)."""
    mutator = MUTATORS[kind]
    for _ in range(rounds if rounds is not None else rng.choice([1, 1, 1, 2, 3, 4])):
        data = mutator(data, rng) if rng.randrange(8) else mutate_bytes(data, rng)
    return data
