"""The one base64url codec (``trust.crypto.base64url``): unpadded, canonical, nothing else — and its callers that
used to have their own copy (JWK members were decoded leniently)."""

from __future__ import annotations

import base64
import itertools

import pytest

from trust.crypto import base64url, jwk
from trust.crypto.errors import EncodingError
from trust.crypto.keys import generate_private_key

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def test_round_trip_and_known_values() -> None:
    assert base64url.encode(b"") == ""
    assert base64url.encode(b"\xfb\xff") == "-_8"  # the two characters where base64url differs from base64
    assert base64url.encode_bytes(b"\xfb\xff") == b"-_8"
    for size in range(40):
        data = bytes(range(size))
        assert base64url.decode(base64url.encode(data)) == data


def test_non_canonical_base64url_is_refused() -> None:
    assert base64url.decode("AA") == b"\0"
    with pytest.raises(EncodingError, match="canonical"):
        base64url.decode("AB")  # the same byte with unused bits set
    with pytest.raises(EncodingError, match="canonical"):
        base64url.decode("AAB")


@pytest.mark.parametrize(
    "text",
    [
        "AA==",  # padding
        "AA=",
        "+/8",  # the standard alphabet
        "A A",  # whitespace anywhere
        "AA\n",
        "A!AA",  # a character outside the alphabet (the standard library's decoder skips it silently)
        "A",  # a length of 1 modulo 4 encodes no byte
        "AAAAA",
        "ＡＡ",  # full-width letters
    ],
)
def test_anything_but_unpadded_base64url_is_refused(text: str) -> None:
    with pytest.raises(EncodingError, match="JWS part is not unpadded base64url"):
        base64url.decode(text, "JWS part")


def test_non_text_is_refused() -> None:
    with pytest.raises(EncodingError):
        base64url.decode(b"AA")  # type: ignore[arg-type]
    with pytest.raises(EncodingError):
        base64url.decode(None)  # type: ignore[arg-type]


def test_base64url_decoding_accepts_exactly_the_canonical_encodings() -> None:
    """Every 2- and 3-character tail (after a full quantum): accepted if and only if encoding the standard
    library's decoding gives the same text back, and then decoded to those bytes."""
    accepted = 0
    for length in (2, 3):
        for tail in itertools.product(ALPHABET, repeat=length):
            text = "QUJD" + "".join(tail)
            reference = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            canonical = base64.urlsafe_b64encode(reference).rstrip(b"=").decode() == text
            try:
                decoded = base64url.decode(text)
            except EncodingError:
                assert not canonical, text
            else:
                assert canonical and decoded == reference, text
                accepted += 1
    assert accepted == 2**8 + 2**16  # one text per 1- and 2-byte tail


# --- JWK members: they had a lenient copy of their own ------------------------------------------------------------


def _non_canonical(text: str) -> str:
    """``text`` with an unused low bit of its last character set: the same bytes to a lenient decoder."""
    assert len(text) % 4 in (2, 3)
    return text[:-1] + ALPHABET[ALPHABET.index(text[-1]) | 1]


@pytest.mark.parametrize("family", ["P-256", "SM2"])
def test_jwk_members_are_decoded_strictly(family: str) -> None:
    """A JWK member in a non-canonical encoding, or with a character outside the alphabet, is refused: the old
    copy of the decoder in ``trust.crypto.jwk`` accepted both and read the same key from them."""
    key = generate_private_key("ec-p256" if family == "P-256" else "sm2").public_key
    public = jwk.public_jwk(key)
    assert jwk.public_key_from_jwk(public).spki_der() == key.spki_der()
    x = public["x"]  # 32 bytes: 43 characters, the last one with two unused bits
    for spoiled in (_non_canonical(x), x[:10] + "!!" + x[10:], x[:10] + ".*" + x[10:]):
        # what the old copy did: no padding, "+", "/" or whitespace, then the standard library's lenient decoder
        assert base64.urlsafe_b64decode(spoiled + "=" * (-len(spoiled) % 4)) == base64url.decode(x)  # same key
        with pytest.raises(EncodingError, match="JWK member 'x'"):
            jwk.public_key_from_jwk({**public, "x": spoiled})
