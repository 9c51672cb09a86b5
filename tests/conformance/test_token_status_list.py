"""IETF Token Status List conformance: the draft's examples (tests/data/vendor/token-status-list).

``status_list_vectors.json`` holds every JSON example of the draft with its expected statuses: each index
decodes to ``expected_nonzero[idx]`` or ``default_status``. ``examples-md/`` holds the draft's example files
themselves; every one of them is accounted for below — checked, or listed in :data:`NOT_CHECKED` with the
reason (Huren implements the JSON/JWT forms, not CBOR/CWT).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

import jwt as pyjwt
import pytest

from tests.conftest import shared_file
from trust.crypto import base64url, jwk
from trust.crypto.errors import InputError, InvalidSignature
from trust.formats import jose
from trust.formats import status_list as sl
from trust.formats.status_list import StatusList

FOLDER = ("token-status-list",)
VECTORS: dict[str, Any] = json.loads(shared_file(*FOLDER, "status_list_vectors.json").read_text(encoding="utf-8"))
EXAMPLES = VECTORS["status_list_examples"]
SIGNED = VECTORS["status_list_jwt"]
EXAMPLES_MD = shared_file(*FOLDER, "examples-md")

# Files of examples-md/ this test does not check, with the reason (every other file is checked).
NOT_CHECKED = {
    "referenced_token_cwt.md": "a CWT Referenced Token (COSE_Sign1): Huren issues JWT/SD-JWT, not CWT",
    "referenced_token_cwt_diag.md": "CBOR diagnostic notation of referenced_token_cwt.md (for people)",
    "status_list_cwt_diag.md": "CBOR diagnostic notation of status_list_cwt.md (for people)",
    "status_list_encoding_cbor_diag.md": "CBOR diagnostic notation of status_list_encoding_cbor.md (for people)",
    "status_list_encoding2_cbor_diag.md": "CBOR diagnostic notation of status_list_encoding2_cbor.md (for people)",
}


def expected_statuses(example: dict[str, Any]) -> list[int]:
    statuses = [example["default_status"]] * example["size"]
    for idx, value in example["expected_nonzero"].items():
        statuses[int(idx)] = value
    return statuses


def test_the_vector_file_holds_every_json_example() -> None:
    ids = sorted(e["id"] for e in EXAMPLES)
    json_examples = sorted(p.stem for p in EXAMPLES_MD.glob("status_list_encoding*_json.md"))
    assert ids == json_examples
    assert len(ids) == 6
    assert {e["bits"] for e in EXAMPLES} == {1, 2, 4, 8}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_every_index_decodes_to_its_expected_status(example: dict[str, Any]) -> None:
    decoded = sl.decode({"bits": example["bits"], "lst": example["lst"]})
    assert decoded.bits == example["bits"]
    assert len(decoded) == example["size"]
    expected = expected_statuses(example)
    assert decoded.values() == expected
    assert decoded.nonzero() == {int(k): v for k, v in example["expected_nonzero"].items()}
    for idx in (0, example["size"] - 1, *(int(k) for k in example["expected_nonzero"])):
        assert decoded.get(idx) == expected[idx]
    with pytest.raises(InputError, match="out of range"):
        decoded.get(example["size"])


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_encoding_the_expected_statuses_reproduces_the_example(example: dict[str, Any]) -> None:
    built = StatusList(example["bits"], example["size"])
    for idx, value in example["expected_nonzero"].items():
        built.set(int(idx), value)
    # the uncompressed bytes are what the draft specifies
    assert built.to_bytes() == zlib.decompress(base64url.decode(example["lst"]))
    encoded = built.encode()
    assert encoded["bits"] == example["bits"]
    assert sl.decode(encoded).values() == expected_statuses(example)
    # zlib at level 9 (the draft: highest compression) gives the example's very bytes
    assert encoded["lst"] == example["lst"]


# --- the example files ------------------------------------------------------------------------------------------------


def _md(name: str) -> str:
    return (EXAMPLES_MD / name).read_text(encoding="utf-8")


def _json_example(text: str) -> dict[str, Any]:
    """The JSON of an example file; ``lst`` is wrapped over several lines there."""
    body = text.rsplit("encoded:", maxsplit=1)[-1]
    body = re.sub(r'"lst":\s*"([^"]*)"', lambda m: '"lst": "' + "".join(m.group(1).split()) + '"', body)
    value: dict[str, Any] = json.loads(body)
    return value


def _byte_array(text: str) -> bytes | None:
    match = re.search(r"byte_array = \[([^\]]*)\]", text)
    return bytes(int(x, 16) for x in match.group(1).split(",")) if match else None


def _hex(text: str) -> bytes:
    return bytes.fromhex("".join(text.rsplit("encoded:", maxsplit=1)[-1].split()))


def test_every_example_file_is_accounted_for() -> None:
    names = {p.name for p in EXAMPLES_MD.glob("*.md")}
    checked = (
        {f"{e['id']}.md" for e in EXAMPLES}
        | {f"{e['id'].removesuffix('_json')}_cbor.md" for e in EXAMPLES}
        | {"status_list_cwt.md", "status_list_jwt.md", "status_list_jwt_raw.md"}
    )
    assert checked <= names
    assert names == checked | set(NOT_CHECKED)
    assert not checked & set(NOT_CHECKED)


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_json_example_file_matches_the_vector(example: dict[str, Any]) -> None:
    text = _md(f"{example['id']}.md")
    assert _json_example(text) == {"bits": example["bits"], "lst": example["lst"]}
    byte_array = _byte_array(text)
    if byte_array is not None:  # the short examples spell out the uncompressed bytes
        assert StatusList.from_bytes(example["bits"], byte_array).encode() == {
            "bits": example["bits"],
            "lst": example["lst"],
        }
        assert sl.decode(example).to_bytes() == byte_array


@pytest.mark.parametrize("example", EXAMPLES, ids=[e["id"] for e in EXAMPLES])
def test_cbor_example_carries_the_same_compressed_list(example: dict[str, Any]) -> None:
    """Huren has no CBOR encoder; it checks that the CBOR form holds the same bits and compressed bytes."""
    text = _md(f"{example['id'].removesuffix('_json')}_cbor.md")
    cbor = _hex(text)
    assert cbor.startswith(b"\xa2\x64bits" + bytes([example["bits"]]) + b"\x63lst")
    compressed = StatusList.decode(example).encode()["lst"]
    assert base64url.decode(compressed) in cbor
    byte_array = _byte_array(text)
    if byte_array is not None:
        assert sl.decode(example).to_bytes() == byte_array


def test_cwt_status_list_token_carries_the_one_bit_example() -> None:
    """The CWT's signature is COSE (not checked: no CWT support); its status list is the 1-bit example."""
    cwt = _hex(_md("status_list_cwt.md"))
    one_bit = next(e for e in EXAMPLES if e["id"] == "status_list_encoding_json")
    assert b"\x64bits\x01\x63lst" + bytes([0x40 + 10]) + base64url.decode(one_bit["lst"]) in cwt
    assert b"https://example.com/statuslists/1" in cwt


# --- the signed statuslist+jwt example ------------------------------------------------------------------------------


def _issuer_key() -> Any:
    return jwk.public_key_from_jwk(SIGNED["issuer_public_jwk"])


def test_signed_example_verifies_and_decodes() -> None:
    header, payload, _, _ = jose.parse_compact(SIGNED["compact"])
    claims = json.loads(payload)
    seen: list[dict[str, Any]] = []

    def resolve(h: dict[str, Any]) -> Any:
        seen.append(h)
        assert h["kid"] == SIGNED["issuer_public_jwk"]["kid"]
        return _issuer_key()

    for now in (claims["iat"], claims["exp"] - 1):
        token = sl.verify_token_claims(
            SIGNED["compact"], resolve, expected_uri="https://example.com/statuslists/1", now=now
        )
        assert token.header == SIGNED["expected_header"]
        assert token.claims["status_list"] == SIGNED["expected_status_list"]
        assert (token.iat, token.exp, token.ttl) == (1686920170, 2291720170, 43200)
        assert token.status_list.values() == SIGNED["expected_statuses_index_0_15"]
    assert header == SIGNED["expected_header"] and len(seen) == 2


def test_signed_example_is_refused_when_expired_tampered_or_for_another_list() -> None:
    resolve = lambda _h: _issuer_key()  # noqa: E731
    with pytest.raises(InputError) as caught:
        sl.verify_token(SIGNED["compact"], resolve, expected_uri="https://example.com/statuslists/1", now=2291720170)
    assert caught.value.evidence["check"] == "exp"
    with pytest.raises(InputError) as caught:
        sl.verify_token(SIGNED["compact"], resolve, expected_uri="https://example.com/statuslists/2", now=1686920170)
    assert caught.value.evidence["check"] == "sub"
    head, payload, signature = SIGNED["compact"].split(".")
    flipped = signature[:10] + ("A" if signature[10] != "A" else "B") + signature[11:]
    with pytest.raises(InvalidSignature):
        sl.verify_token(
            f"{head}.{payload}.{flipped}", resolve, expected_uri="https://example.com/statuslists/1", now=1686920170
        )


def test_signed_example_verifies_with_pyjwt_too() -> None:
    """An independent implementation agrees that the example's signature and claims are good."""
    key = pyjwt.PyJWK(SIGNED["issuer_public_jwk"])
    claims = pyjwt.decode(
        SIGNED["compact"], key, algorithms=["ES256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["status_list"] == SIGNED["expected_status_list"]
    assert claims["sub"] == "https://example.com/statuslists/1"


def test_example_files_of_the_signed_token() -> None:
    raw = "".join(_md("status_list_jwt_raw.md").split())
    assert raw == SIGNED["compact"]
    header_text, payload_text = _md("status_list_jwt.md").split("\n.\n")
    header, payload, _, _ = jose.parse_compact(raw)
    assert json.loads(header_text) == header
    # the readable form leaves out iss; every claim it shows is in the signed token with the same value
    shown = json.loads(payload_text)
    claims = json.loads(payload)
    assert {k: claims[k] for k in shown} == shown
    assert set(claims) - set(shown) == {"iss"}
