"""The one strict JSON reader (``trust.formats.strict_json``) and the readers that used to be lenient copies or
plain ``json.loads``: licence token payloads, trust list documents, bundle payloads (the status list claims, holder
proofs, audit details and the CLI/HTTP inputs have their regressions beside their own tests)."""

from __future__ import annotations

import json

import pytest

from trust.crypto import base64url
from trust.crypto.errors import EncodingError
from trust.formats import license_token, strict_json, trustlist


def test_plain_json_is_read() -> None:
    value = strict_json.loads(b'{"a": [1, 2.5, -0, true, null, "\\u00e9\\ud83d\\ude00"], "b": {"a": 1}}', "doc")
    assert value == {"a": [1, 2.5, 0, True, None, "é😀"], "b": {"a": 1}}  # a surrogate pair is one character
    assert strict_json.loads('"浙江"', "doc") == "浙江"
    assert strict_json.load_object("{}", "doc") == {}
    assert strict_json.loads("1e308", "doc") == 1e308


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"a": 1, "a": 2}', "member 'a' twice"),
        ('{"x": [{"b": {"a": 1, "a": 1}}]}', "member 'a' twice"),  # at any depth, even with equal values
        ('{"a": NaN}', "NaN"),
        ("[Infinity]", "Infinity"),
        ("[-Infinity]", "-Infinity"),
        ("1e400", "too large for a double"),  # json.loads makes it inf
        ("[-1e999]", "too large for a double"),
        ('"\\ud800"', "lone surrogate"),
        ('{"\\udc00": 1}', "lone surrogate"),  # in a member name too
        ('["\\ude00\\ud83d"]', "lone surrogate"),  # a pair in the wrong order is two lone ones
        ("\ufeff{}", "byte order mark"),
        ("{", "is not UTF-8 JSON"),
        ("{} {}", "is not UTF-8 JSON"),  # one value only
        ("'a'", "is not UTF-8 JSON"),
        ("1" * 5000, "is not UTF-8 JSON"),  # beyond the interpreter's integer string limit
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_what_is_refused(text: str, words: str) -> None:
    with pytest.raises(EncodingError, match=r"^the document ") as caught:
        strict_json.loads(text, "the document")
    assert words in caught.value.message


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": "\xff"}',  # not UTF-8
        '{"a": 1}'.encode("utf-16"),  # json.loads of bytes would read UTF-16 and UTF-32
        '{"a": 1}'.encode("utf-32"),
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
    ],
)
def test_bytes_must_be_utf8_without_bom(data: bytes) -> None:
    with pytest.raises(EncodingError, match=r"^manifest"):
        strict_json.loads(data, "manifest")


def test_an_object_is_asked_for() -> None:
    for text in ("[]", "1", '"x"', "null"):
        with pytest.raises(EncodingError, match="claims must be a JSON object"):
            strict_json.load_object(text, "claims")
    with pytest.raises(EncodingError, match="must be JSON text"):
        strict_json.loads(None, "claims")  # type: ignore[arg-type]


# --- callers that read with json.loads before ---------------------------------------------------------------------


def _compact(payload: bytes) -> str:
    header = base64url.encode(json.dumps({"alg": "ES256", "typ": license_token.TYP}).encode())
    return f"{header}.{base64url.encode(payload)}.{base64url.encode(b'sig')}"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"sub": "a", "sub": "b"}', "member 'sub' twice"),
        (b'{"sub": "a", "iat": NaN}', "NaN"),
        (b'{"sub": "a", "exp": 1e999}', "too large"),
    ],
)
def test_a_licence_token_payload_is_read_strictly(payload: bytes, words: str) -> None:
    """The verifier reads a licence token's claims before its signature is checked (to find the issuer); a payload
    with a member twice is ambiguous, whoever signed it (the old reader kept the last)."""
    with pytest.raises(EncodingError, match="licence token payload") as caught:
        license_token.parse_unverified(_compact(payload))
    assert words in caught.value.message


@pytest.mark.parametrize(
    "document",
    [
        b'{"payload": "e30", "payload": "e30", "signatures": []}',
        b'{"payload": "e30", "signatures": [], "x": NaN}',
    ],
)
def test_a_trust_list_document_is_read_strictly(document: bytes) -> None:
    with pytest.raises(EncodingError, match=r"^trust list"):
        trustlist.load_document(document, "trust list")
