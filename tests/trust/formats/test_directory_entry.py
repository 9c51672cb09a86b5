"""The signed directory entry's format (issue 21 item 1): the holder commitment and the shape checks of its claims
(its signature and issuer are the verifier's: tests/trust/service/test_sharing_legacy.py)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest

from trust.crypto import base64url
from trust.crypto.errors import EncodingError, InputError
from trust.formats import directory_entry

SALT = bytes(range(16))
HOLDER = base64url.encode(bytes(32))
CODE = "33010619900101001X"


def _claims(**changes: Any) -> dict[str, Any]:
    body = directory_entry.claims(
        issuer_id="330000-test-sm2", identifier="ID-1", type_code="11100000000013338W104",
        issuer_code="11330000002482227N", holder_commitment=directory_entry.commitment(SALT, CODE),
        valid_from=datetime(2001, 1, 1, tzinfo=UTC), valid_until=None, status="valid",
        location="https://legacy.zj.example/licenses/ID-1",
    )  # fmt: skip
    body.update(changes)
    return body


def test_the_commitment_is_a_salted_digest_of_the_normalised_code() -> None:
    expected = base64url.encode(hashlib.sha256(SALT + CODE.encode()).digest())
    assert directory_entry.commitment(SALT, CODE) == expected
    assert directory_entry.commitment(SALT, " " + CODE.lower()) == expected  # as the directory's HMAC normalises
    assert directory_entry.commitment(bytes(16), CODE) != expected
    with pytest.raises(InputError):
        directory_entry.commitment(SALT[:15], CODE)  # a short salt would let the code be guessed


def test_read_accepts_the_claims_it_makes() -> None:
    entry = directory_entry.read(_claims())
    assert (entry.identifier, entry.status, entry.valid_until) == ("ID-1", "valid", None)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"jti": "ID-2"}, "jti"),
        ({"entry": {"holder": "x", "status": "valid", "location": "https://a.example"}}, "holder"),
        (
            {"entry": {"holder": HOLDER, "status": "lost", "location": "https://a.example"}},
            "status",
        ),
        (
            {"entry": {"holder": HOLDER, "status": "valid", "location": "file:///etc/passwd"}},
            "URL",
        ),
        ({"iat": "yesterday"}, "iat"),
        ({"license": None}, "required"),
    ],
)
def test_read_refuses_malformed_claims(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(EncodingError) as caught:
        directory_entry.read(_claims(**changes))
    assert words in caught.value.message


def test_parse_refuses_another_typ() -> None:
    from trust.crypto.algorithms import ECDSA_SHA256
    from trust.crypto.keys import generate_private_key
    from trust.crypto.signer import LocalSigner
    from trust.formats import jose

    signer = LocalSigner(generate_private_key("ec-p256"), ECDSA_SHA256)
    token = jose.sign_compact(b"{}", signer, headers={"typ": "huren-license+jwt"})
    with pytest.raises(EncodingError):
        directory_entry.parse_unverified(token)
