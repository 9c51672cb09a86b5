"""Token Status List (trust.formats.status_list): bit packing, limits, hostile input, statuslist+jwt tokens."""

from __future__ import annotations

import base64
import json
import time
import zlib
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest

from trust.crypto import jwk
from trust.crypto.errors import Code, EncodingError, InputError, InvalidSignature, UnsupportedAlgorithm
from trust.crypto.keys import PrivateKey, generate_private_key
from trust.formats import jose
from trust.formats import status_list as sl
from trust.formats.status_list import Status, StatusList

URI = "https://huren.example/status/330000/1"
NOW = 1_790_000_000
SIZES = (1, 7, 8, 9, 31, 1000, 1001)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- bit packing ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
@pytest.mark.parametrize("size", SIZES)
def test_set_get_at_the_boundaries(bits: int, size: int) -> None:
    top = (1 << bits) - 1
    status = StatusList(bits, size)
    assert len(status) == size and status.bits == bits
    assert status.values() == [0] * size
    assert len(status.to_bytes()) == (size * bits + 7) // 8
    status.set(0, top)
    status.set(size - 1, top)
    assert status.get(0) == top and status.get(size - 1) == top
    if size > 2:
        assert status.get(1) == 0 and status.get(size - 2) == 0
    assert status.nonzero() == {0: top, size - 1: top}
    status.set(0, 0)  # clearing leaves the other end alone
    assert status.get(0) == 0
    assert status.get(size - 1) == (top if size > 1 else 0)
    for idx in (-1, size, size + 8):
        with pytest.raises(InputError, match="out of range"):
            status.get(idx)
        with pytest.raises(InputError, match="out of range"):
            status.set(idx, 1)
    for value in (-1, top + 1, True, 1.0):
        with pytest.raises(InputError, match=f"0..{top}"):
            status.set(size - 1, value)  # type: ignore[arg-type]
    assert status.get(size - 1) == (top if size > 1 else 0)  # refused writes change nothing


def test_every_index_and_value_round_trips_through_the_encoding() -> None:
    for bits in (1, 2, 4, 8):
        top = (1 << bits) - 1
        status = StatusList(bits, 203)
        for idx in range(203):
            status[idx] = (idx * 7 + 3) % (top + 1)
        again = sl.decode(json.loads(json.dumps(status.encode())))
        # the encoding carries whole bytes: the decoded list also holds the last byte's spare entries
        assert len(again) == -(-203 * bits // 8) * 8 // bits
        assert again.to_bytes() == status.to_bytes()
        assert again != status or len(again) == 203
        assert again.values() == [(idx * 7 + 3) % (top + 1) for idx in range(203)] + [0] * (len(again) - 203)


def test_least_significant_bits_hold_the_lowest_index() -> None:
    one = StatusList(1, 16)
    one.set(0, 1)
    one.set(15, 1)
    assert one.to_bytes() == b"\x01\x80"
    two = StatusList(2, 4)
    two.set(3, 3)
    two.set(0, 1)
    assert two.to_bytes() == b"\xc1"
    four = StatusList(4, 2)
    four.set(1, 0xA)
    assert four.to_bytes() == b"\xa0"
    # the draft's 2-bit example: statuses 1,2,0,3,0,1,0,1,1,2,3,3 are the bytes C9 44 F9
    example = StatusList(2, 12)
    for idx, value in enumerate([1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]):
        example.set(idx, value)
    assert example.to_bytes() == bytes([0xC9, 0x44, 0xF9])
    assert example.encode() == {"bits": 2, "lst": "eNo76fITAAPfAgc"}


def test_huren_status_values() -> None:
    assert (Status.VALID, Status.INVALID, Status.SUSPENDED) == (0, 1, 2)
    assert sl.HUREN_BITS == 2
    status = StatusList()
    assert status.bits == 2
    status = StatusList(size=10)
    status.set(4, Status.SUSPENDED)
    status.set(4, Status.VALID)  # suspension is reversible
    status.set(5, Status.INVALID)
    assert status.values()[3:7] == [0, 0, 1, 0]


# --- limits -----------------------------------------------------------------------------------------------------------


def test_size_limits() -> None:
    assert StatusList.max_size(1) == sl.MAX_LIST_BYTES * 8
    assert StatusList.max_size(8) == sl.MAX_LIST_BYTES
    biggest = StatusList(8, sl.MAX_LIST_BYTES)
    assert len(biggest.to_bytes()) == sl.MAX_LIST_BYTES
    with pytest.raises(InputError) as caught:
        StatusList(8, sl.MAX_LIST_BYTES + 1)
    assert caught.value.code is Code.INPUT_TOO_LARGE
    for size in (0, -1, True, 2.0):
        with pytest.raises(InputError, match="positive integer"):
            StatusList(2, size)  # type: ignore[arg-type]
    for bits in (0, 3, 16, True, "2"):
        with pytest.raises(InputError, match="1, 2, 4 or 8"):
            StatusList(bits, 8)  # type: ignore[arg-type]


# --- hostile lst ---------------------------------------------------------------------------------------------------


def test_zip_bomb_is_refused_with_bounded_work() -> None:
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)  # 64 MiB of zeros in ~64 KB
    started = time.perf_counter()
    with pytest.raises(InputError) as caught:
        sl.decode({"bits": 1, "lst": b64u(bomb)})
    assert caught.value.code is Code.INPUT_TOO_LARGE
    assert "zip bomb" in caught.value.message
    assert time.perf_counter() - started < 5
    # exactly at the limit is fine, one byte more is not
    assert len(sl.decode({"bits": 8, "lst": b64u(zlib.compress(b"\0" * sl.MAX_LIST_BYTES))})) == sl.MAX_LIST_BYTES
    with pytest.raises(InputError) as caught:
        sl.decode({"bits": 8, "lst": b64u(zlib.compress(b"\0" * (sl.MAX_LIST_BYTES + 1)))})
    assert caught.value.code is Code.INPUT_TOO_LARGE


GOOD_LST = b64u(zlib.compress(b"\xb9\xa3", 9))


@pytest.mark.parametrize(
    ("obj", "error", "words"),
    [
        ({"bits": 1, "lst": GOOD_LST + "="}, EncodingError, "base64url"),
        ({"bits": 1, "lst": "eNrb+RgAAhcBXQ"}, EncodingError, "base64url"),  # '+' is base64, not base64url
        ({"bits": 1, "lst": "e"}, EncodingError, "base64url"),
        ({"bits": 1, "lst": ""}, EncodingError, "non-empty"),
        ({"bits": 1, "lst": 12}, EncodingError, "non-empty base64url string"),
        ({"bits": 1, "lst": b64u(b"not zlib at all")}, EncodingError, "not a ZLIB"),
        ({"bits": 1, "lst": b64u(zlib.compress(b"\xb9\xa3")[2:])}, EncodingError, "not a ZLIB"),  # raw DEFLATE
        ({"bits": 1, "lst": b64u(zlib.compress(b"\xb9\xa3" * 50)[:-6])}, EncodingError, "truncated"),
        ({"bits": 1, "lst": b64u(zlib.compress(b"\xb9\xa3") + b"junk")}, EncodingError, "after the ZLIB stream"),
        ({"bits": 1, "lst": b64u(zlib.compress(b""))}, InputError, "empty"),
        ({"bits": 3, "lst": GOOD_LST}, InputError, "1, 2, 4 or 8"),
        ({"bits": "1", "lst": GOOD_LST}, InputError, "1, 2, 4 or 8"),
        ({"bits": True, "lst": GOOD_LST}, InputError, "1, 2, 4 or 8"),
        ({"bits": 16, "lst": GOOD_LST}, InputError, "1, 2, 4 or 8"),
        ({"lst": GOOD_LST}, EncodingError, "bits and lst"),
        ({"bits": 1}, EncodingError, "bits and lst"),
        ([1, GOOD_LST], EncodingError, "JSON object"),
        ({"bits": 1, "lst": "A" * (sl.MAX_LST_CHARS + 1)}, InputError, "exceeds"),
    ],
)
def test_hostile_lst_is_refused(obj: Any, error: type[Exception], words: str) -> None:
    with pytest.raises(error, match=words):
        sl.decode(obj)


def test_gzip_wrapper_is_not_zlib() -> None:
    import gzip

    with pytest.raises(EncodingError, match="not a ZLIB"):
        sl.decode({"bits": 1, "lst": b64u(gzip.compress(b"\xb9\xa3"))})


def test_unknown_members_are_ignored() -> None:
    decoded = sl.decode({"bits": 1, "lst": GOOD_LST, "aggregation_uri": "https://example.com/agg"})
    assert decoded.values() == [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]


# --- referenced tokens ----------------------------------------------------------------------------------------------


def test_status_claim_round_trip() -> None:
    claim = sl.status_claim(URI, 42)
    assert claim == {"status": {"status_list": {"idx": 42, "uri": URI}}}
    assert sl.parse_status_claim({"iss": "x", **claim}) == (URI, 42)
    for idx in (-1, True, "1", 1.5):
        with pytest.raises(InputError, match="non-negative integer"):
            sl.status_claim(URI, idx)  # type: ignore[arg-type]
    for uri in ("", "statuslists/1", "https://a b", "1http://x"):
        with pytest.raises(InputError):
            sl.status_claim(uri, 0)
    with pytest.raises(InputError, match=r"no status\.status_list"):
        sl.parse_status_claim({"status": {}})
    with pytest.raises(InputError, match="idx"):
        sl.parse_status_claim({"status": {"status_list": {"idx": -3, "uri": URI}}})


# --- tokens --------------------------------------------------------------------------------------------------------

KEYS = {"sm2": generate_private_key("sm2"), "ec-p256": generate_private_key("ec-p256")}


def _list() -> StatusList:
    status = StatusList(2, 1024)
    status.set(0, Status.INVALID)
    status.set(7, Status.SUSPENDED)
    status.set(1023, Status.INVALID)
    return status


def _resolver(key: PrivateKey, kid: str = "k1") -> Any:
    def resolve(header: dict[str, Any]) -> Any:
        assert header.get("kid") == kid
        return key.public_key

    return resolve


@pytest.mark.parametrize(("spec", "alg"), [("sm2", "SM2"), ("ec-p256", "ES256")])
def test_token_make_and_verify(spec: str, alg: str) -> None:
    key = KEYS[spec]
    status = _list()
    token = sl.make_token(status, URI, key.signer(), iat=NOW, exp=NOW + 86400, ttl=3600, kid="k1")
    header, payload, _, _ = jose.parse_compact(token)
    assert header == {"alg": alg, "typ": "statuslist+jwt", "kid": "k1"}
    claims = json.loads(payload)
    assert claims == {"sub": URI, "iat": NOW, "exp": NOW + 86400, "ttl": 3600, "status_list": status.encode()}
    verified = sl.verify_token(token, _resolver(key), expected_uri=URI, now=NOW + 10)
    assert verified == status
    full = sl.verify_token_claims(token, _resolver(key), expected_uri=URI, now=datetime.fromtimestamp(NOW + 10, UTC))
    assert (full.uri, full.iat, full.exp, full.ttl) == (URI, NOW, NOW + 86400, 3600)
    assert full.status(7) == Status.SUSPENDED and full.status(8) == Status.VALID
    # a referenced token's claim leads to its status
    uri, idx = sl.parse_status_claim(sl.status_claim(URI, 1023))
    assert sl.verify_token(token, _resolver(key), expected_uri=uri, now=NOW).get(idx) == Status.INVALID


def test_es256_token_verifies_with_pyjwt() -> None:
    """An independent JOSE implementation accepts the token and reads the same claims."""
    key = KEYS["ec-p256"]
    token = sl.make_token(_list(), URI, key.signer(), iat=NOW, exp=NOW + 600, kid="k1")
    public_pem = key.public_key.pem()
    claims = pyjwt.decode(token, public_pem, algorithms=["ES256"], options={"verify_exp": False})
    assert claims["sub"] == URI and claims["status_list"] == _list().encode()
    assert pyjwt.get_unverified_header(token)["typ"] == "statuslist+jwt"


def _sign(claims: dict[str, Any], key: PrivateKey, **headers: Any) -> str:
    return jose.sign_compact(json.dumps(claims).encode(), key.signer(), headers={"kid": "k1", **headers})


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"sub": URI, "iat": NOW, "exp": NOW + 600, "ttl": 60, "status_list": _list().encode()}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.mark.parametrize(
    ("claims", "headers", "now", "check"),
    [
        (_claims(), {"typ": "JWT"}, NOW, "typ"),
        (_claims(), {"typ": "statuslist+cwt"}, NOW, "typ"),
        (_claims(sub="https://huren.example/status/440000/1"), {"typ": "statuslist+jwt"}, NOW, "sub"),
        (_claims(sub=None), {"typ": "statuslist+jwt"}, NOW, "sub"),
        (_claims(), {"typ": "statuslist+jwt"}, NOW + 600, "exp"),  # expired at exactly exp
        (_claims(), {"typ": "statuslist+jwt"}, NOW + 10_000, "exp"),
        (_claims(exp=None), {"typ": "statuslist+jwt"}, NOW, "exp"),
        (_claims(exp="tomorrow"), {"typ": "statuslist+jwt"}, NOW, "exp"),
        (_claims(), {"typ": "statuslist+jwt"}, NOW - 1, "iat"),  # issued in the future
        (_claims(iat=None), {"typ": "statuslist+jwt"}, NOW, "iat"),
        (_claims(nbf=NOW + 100), {"typ": "statuslist+jwt"}, NOW, "nbf"),
        (_claims(ttl=0), {"typ": "statuslist+jwt"}, NOW, "ttl"),
        (_claims(status_list=None), {"typ": "statuslist+jwt"}, NOW, "status_list"),
    ],
)
def test_token_checks_fail(claims: dict[str, Any], headers: dict[str, Any], now: int, check: str) -> None:
    token = _sign(claims, KEYS["ec-p256"], **headers)
    with pytest.raises(InputError) as caught:
        sl.verify_token(token, _resolver(KEYS["ec-p256"]), expected_uri=URI, now=now)
    assert caught.value.evidence["check"] == check


def test_token_typ_accepts_the_media_type_form() -> None:
    token = _sign(_claims(), KEYS["ec-p256"], typ="application/statuslist+JWT")
    assert sl.verify_token(token, _resolver(KEYS["ec-p256"]), expected_uri=URI, now=NOW) == _list()


def test_leeway_allows_small_clock_skew_only() -> None:
    token = _sign(_claims(), KEYS["sm2"], typ="statuslist+jwt")
    resolve = _resolver(KEYS["sm2"])
    assert sl.verify_token(token, resolve, expected_uri=URI, now=NOW + 605, leeway=10) == _list()
    assert sl.verify_token(token, resolve, expected_uri=URI, now=NOW - 5, leeway=10) == _list()
    with pytest.raises(InputError, match="leeway"):
        sl.verify_token(token, resolve, expected_uri=URI, now=NOW, leeway=3600)


def test_bad_status_list_in_a_good_token_is_refused() -> None:
    bomb = {"bits": 1, "lst": b64u(zlib.compress(b"\0" * (sl.MAX_LIST_BYTES + 1), 9))}
    token = _sign(_claims(status_list=bomb), KEYS["ec-p256"], typ="statuslist+jwt")
    with pytest.raises(InputError) as caught:
        sl.verify_token(token, _resolver(KEYS["ec-p256"]), expected_uri=URI, now=NOW)
    assert caught.value.code is Code.INPUT_TOO_LARGE


def test_signature_and_algorithm_checks() -> None:
    key = KEYS["ec-p256"]
    token = sl.make_token(_list(), URI, key.signer(), iat=NOW, exp=NOW + 600, kid="k1")
    head, payload, signature = token.split(".")
    other = _list()
    other.set(7, Status.VALID)  # a forger lifts a suspension
    forged_payload = b64u(json.dumps(_claims(status_list=other.encode())).encode())
    with pytest.raises(InvalidSignature):
        sl.verify_token(f"{head}.{forged_payload}.{signature}", _resolver(key), expected_uri=URI, now=NOW)
    with pytest.raises(InvalidSignature):
        sl.verify_token(token, lambda _h: generate_private_key("ec-p256").public_key, expected_uri=URI, now=NOW)
    with pytest.raises(UnsupportedAlgorithm):
        sl.verify_token(token, _resolver(key), expected_uri=URI, now=NOW, algorithms=["SM2"])
    unsigned = b64u(json.dumps({"alg": "none", "typ": "statuslist+jwt"}).encode())
    with pytest.raises(UnsupportedAlgorithm):
        sl.verify_token(f"{unsigned}.{payload}.", _resolver(key), expected_uri=URI, now=NOW)


def test_make_token_checks_its_input() -> None:
    signer = KEYS["sm2"].signer()
    with pytest.raises(InputError, match="after iat"):
        sl.make_token(_list(), URI, signer, iat=NOW, exp=NOW)
    with pytest.raises(InputError, match="ttl"):
        sl.make_token(_list(), URI, signer, iat=NOW, exp=NOW + 1, ttl=0)
    with pytest.raises(InputError, match="absolute URI"):
        sl.make_token(_list(), "status/1", signer, iat=NOW, exp=NOW + 1)
    with pytest.raises(InputError, match="time zone"):
        sl.make_token(_list(), URI, signer, iat=datetime(2026, 1, 1), exp=NOW + 1)
    with pytest.raises(InputError, match="StatusList"):
        sl.make_token(_list().encode(), URI, signer, iat=NOW, exp=NOW + 1)  # type: ignore[arg-type]
    token = sl.make_token(
        _list(), URI, signer, iat=datetime.fromtimestamp(NOW, UTC), exp=datetime.fromtimestamp(NOW + 60, UTC)
    )
    header, payload, _, _ = jose.parse_compact(token)
    assert "kid" not in header and "ttl" not in json.loads(payload)
    assert json.loads(payload)["exp"] == NOW + 60
    jwk.public_jwk(KEYS["sm2"].public_key)  # the SM2 key has a JWK form for the trust list


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (json.dumps({**_claims(), "ttl": float("nan")}).encode(), "NaN"),  # json.dumps writes NaN, json.loads read it
        (json.dumps(_claims()).encode()[:-1] + b', "sub": "https://forged.example/1"}', "member 'sub' twice"),
    ],
)
def test_token_claims_are_strict_json(payload: bytes, words: str) -> None:
    """The status list claims had their own copy of the strict reader, which let ``NaN`` through; it is the one
    strict reader now (``trust.formats.strict_json``)."""
    token = jose.sign_compact(payload, KEYS["sm2"].signer(), headers={"kid": "k1", "typ": "statuslist+jwt"})
    with pytest.raises(EncodingError, match="status list token claims") as caught:
        sl.verify_token(token, _resolver(KEYS["sm2"]), expected_uri=URI, now=NOW)
    assert words in caught.value.message
