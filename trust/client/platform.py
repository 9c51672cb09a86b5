"""The platform client: typed calls for the routes a regional or departmental platform uses.

::

    from trust.client import PlatformClient

    with PlatformClient.from_files(server, key="file:platform.key", certificate="platform.pem") as huren:
        licence = huren.issue_license(issuer_id, "11100000000013338W101", fields, holder_jwk=jwk)
        pdf = huren.license_pdf(licence.identifier)

**Authentication.** The client signs an RFC 7523 client assertion with the platform's key (its credential
certificate in ``x5c``, :mod:`trust.formats.client_assertion`) and exchanges it at ``POST /oauth/token`` for an
access token, which it sends as ``Authorization: Bearer``. The token is renewed before it expires (when less than
:data:`REFRESH_MARGIN` of its life, at most 60 s, is left) and at once if the service says it no longer knows it.
Thread-safe: one client may serve several threads.

**Errors.** An error answer raises :class:`~trust.client.errors.ProblemError` with the service's code
(``err.code is Code.FORBIDDEN``, ``err.status == 403``, ``err.request_id``); no answer raises
:class:`~trust.client.errors.ServiceUnreachable`. Retries: :mod:`trust.client.transport`. Issuing calls
(certificates, seals, licences) always carry an ``Idempotency-Key`` — the caller's, or a new random one — so they
are retried safely.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Any, Final, Literal

import httpx

from trust.client.errors import ProblemError, ServiceUnreachable
from trust.client.keys import PLATFORM_PASSPHRASE_ENV, KeySource, load_signer
from trust.client.models import AccessToken, Certificate, License, Seal, Subject
from trust.client.transport import RetryPolicy, Transport, json_list, json_object, segment
from trust.crypto import pem
from trust.crypto.errors import Code, InputError
from trust.crypto.signer import Signer
from trust.formats import client_assertion, tsp
from trust.formats import x509 as cx

REFRESH_MARGIN: Final = 0.2
MAX_REFRESH_SECONDS: Final = 60.0
MAX_CERTIFICATE_FILE: Final = 256 * 1024
PdfLevel = Literal["B-B", "B-T", "B-LT", "B-LTA"]
Family = Literal["SM2", "RSA", "dual"]


def load_certificates(path: Path | str) -> list[bytes]:
    """The certificates (DER) in a PEM or DER file, in file order: the credential certificate first."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_CERTIFICATE_FILE + 1)
    except OSError as exc:
        raise InputError(f"cannot read the certificate file {path}: {exc.strerror}") from None
    if len(data) > MAX_CERTIFICATE_FILE:
        raise InputError(f"the certificate file {path} is larger than {MAX_CERTIFICATE_FILE} bytes")
    if pem.is_pem(data):
        blocks = [
            der
            for label, der in pem.read_all(data, f"the certificate file {path}", limit=64)
            if label in cx.CERTIFICATE_LABELS
        ]
    else:
        blocks = [data]
    if not blocks:
        raise InputError(f"the certificate file {path} holds no CERTIFICATE")
    for der in blocks:
        cx.load_certificate(der)  # each one parses (a clear error now, not a refusal by the service later)
    return [bytes(der) for der in blocks]


def client_id_of(certificate_der: bytes) -> str:
    """The client id a credential certificate names (its subject CN: the national CA sets CN = client id)."""
    subject = cx.load_certificate(certificate_der).subject.native
    common_name = subject.get("common_name") if isinstance(subject, dict) else None
    if not isinstance(common_name, str) or not common_name:
        raise InputError("the credential certificate has no subject CN; give the client id")
    return common_name


class PlatformClient:
    """Typed calls of the issuing routes for one platform (one key and its credential certificate)."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: Signer,
        chain: Sequence[bytes],
        client_id: str | None = None,
        audience: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if not chain:
            raise InputError("the platform's credential certificate is needed (x5c)")
        if cx.public_key(cx.load_certificate(chain[0])) != signer.public_key:
            raise InputError("the key does not belong to the credential certificate", code=Code.KEY_MISMATCH)
        self.transport = Transport(base_url, timeout=timeout, retry=retry, http=http, sleep=sleep)
        self.signer = signer
        self.chain = [bytes(c) for c in chain]
        self.client_id = client_id or client_id_of(self.chain[0])
        self.audience = audience or f"{self.transport.base_url}/oauth/token"
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_files(
        cls,
        base_url: str,
        *,
        key: KeySource | str,
        certificate: Path | str,
        passphrase_env: str = PLATFORM_PASSPHRASE_ENV,
        **options: Any,
    ) -> PlatformClient:
        """A client for the key source ``key`` (``file:PATH``; :mod:`trust.client.keys`) and the credential
        certificate file (PEM or DER; its CA may follow)."""
        signer = load_signer(key, passphrase_env=passphrase_env)
        return cls(base_url, signer=signer, chain=load_certificates(certificate), **options)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> PlatformClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- authentication -------------------------------------------------------------------------------------------

    def assertion(self, *, lifetime: int = client_assertion.DEFAULT_LIFETIME) -> str:
        """A fresh RFC 7523 client assertion (single use) for the token endpoint."""
        if not 1 <= lifetime <= client_assertion.MAX_LIFETIME:
            raise InputError(f"a client assertion lives 1-{client_assertion.MAX_LIFETIME} s, not {lifetime}")
        return client_assertion.build(
            self.signer, self.chain, client_id=self.client_id, audience=self.audience, lifetime=lifetime
        )

    def fetch_token(self) -> AccessToken:
        """A new access token (``POST /oauth/token``), whatever the cached one. Retried on 429 (the same assertion:
        it was refused unread) and on no answer or a 5xx with a fresh assertion (an assertion is single use)."""
        attempt = 0
        while True:
            attempt += 1
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": client_assertion.ASSERTION_TYPE,
                "client_assertion": self.assertion(),
            }
            try:
                response = self.transport.send("POST", "/oauth/token", idempotent=False, data=form)
            except (ProblemError, ServiceUnreachable) as failure:
                server_side = isinstance(failure, ServiceUnreachable) or failure.status >= 500
                if server_side and attempt < self.transport.retry.attempts:
                    self.transport.pause(self.transport.retry.wait(attempt))
                    continue  # a new assertion, so a new request: nothing is done twice
                raise
            token = AccessToken.from_answer(json_object(response))
            with self._lock:
                self._token = token
            return token

    def token(self) -> AccessToken:
        """The current access token, renewed when little of its life is left."""
        with self._lock:
            current = self._token
        if current is not None and current.seconds_left() > min(
            MAX_REFRESH_SECONDS, current.expires_in * REFRESH_MARGIN
        ):
            return current
        return self.fetch_token()

    def _authorization(self, renew: bool) -> str:
        if renew:
            with self._lock:
                self._token = None
        return f"Bearer {self.token().access_token}"

    def _call(self, method: str, path: str, *, idempotent: bool | None = None, **kwargs: Any) -> httpx.Response:
        safe = method == "GET" if idempotent is None else idempotent
        return self.transport.send(method, path, idempotent=safe, authorization=self._authorization, **kwargs)

    def _issuing(self, path: str, body: Mapping[str, Any], idempotency_key: str | None) -> dict[str, Any]:
        key = idempotency_key or uuid.uuid4().hex
        response = self._call("POST", path, idempotent=True, json=dict(body), headers={"Idempotency-Key": key})
        return json_object(response)

    # --- certificates ---------------------------------------------------------------------------------------------

    def issue_certificate(
        self,
        ca_id: str,
        profile: str,
        subject: Subject | Mapping[str, Any],
        *,
        csr: bytes | str | None = None,
        key_family: Literal["SM2", "RSA", "EC"] = "SM2",
        validity_days: int | None = None,
        dns_names: Sequence[str] = (),
        uris: Sequence[str] = (),
        idempotency_key: str | None = None,
    ) -> Certificate:
        """``POST /certificates``: a certificate of ``profile`` from the region's CA ``ca_id``. With ``csr`` (PEM) the
        platform's own key is certified; without, Huren makes and keeps the key."""
        body: dict[str, Any] = {
            "ca_id": ca_id,
            "profile": profile,
            "subject": (subject if isinstance(subject, Subject) else Subject.model_validate(subject)).model_dump(),
            "key_family": key_family,
            "dns_names": list(dns_names),
            "uris": list(uris),
        }
        if csr is not None:
            body["csr"] = csr.decode("ascii") if isinstance(csr, bytes) else csr
        if validity_days is not None:
            body["validity_days"] = validity_days
        return Certificate.model_validate(self._issuing("/certificates", body, idempotency_key))

    def certificate(self, serial: str) -> Certificate:
        """``GET /certificates/{serial}``."""
        return Certificate.model_validate(json_object(self._call("GET", f"/certificates/{segment(serial)}")))

    def certificates(
        self, *, ca_id: str | None = None, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Certificate]:
        """``GET /certificates``: one page, oldest first."""
        params = _params(ca_id=ca_id, status=status, limit=limit, offset=offset)
        return [Certificate.model_validate(c) for c in json_list(self._call("GET", "/certificates", params=params))]

    # --- seals ----------------------------------------------------------------------------------------------------

    def create_seal(
        self,
        ca_id: str,
        *,
        holder_name: str,
        holder_code: str,
        seal_name: str = "公章",
        holder_kind: Literal["organization", "person"] = "organization",
        dual: bool = False,
        validity_days: int | None = None,
        idempotency_key: str | None = None,
    ) -> Seal:
        """``POST /seals``: a GB/T 38540 seal for an organisation (or person) of the region."""
        body: dict[str, Any] = {
            "ca_id": ca_id,
            "holder_kind": holder_kind,
            "holder_name": holder_name,
            "holder_code": holder_code,
            "seal_name": seal_name,
            "dual": dual,
        }
        if validity_days is not None:
            body["validity_days"] = validity_days
        return Seal.model_validate(self._issuing("/seals", body, idempotency_key))

    def seal(self, es_id: str) -> Seal:
        """``GET /seals/{es_id}``."""
        return Seal.model_validate(json_object(self._call("GET", f"/seals/{segment(es_id)}")))

    def seals(
        self, *, ca_id: str | None = None, holder_code: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[Seal]:
        """``GET /seals``: one page, oldest first."""
        params = _params(ca_id=ca_id, holder_code=holder_code, limit=limit, offset=offset)
        return [Seal.model_validate(s) for s in json_list(self._call("GET", "/seals", params=params))]

    def seal_pdf(
        self,
        es_id: str,
        pdf: bytes,
        *,
        level: PdfLevel = "B-B",
        family: Family = "SM2",
        page: int | None = None,
        box: tuple[float, float, float, float] | None = None,
        anchor: str | None = None,
        size: float | None = None,
        occurrence: int = 1,
        field_name: str | None = None,
        reason: str | None = None,
    ) -> bytes:
        """``POST /seals/{es_id}/pdf``: the sealed PDF (PAdES). Without ``page``, ``box`` or ``anchor`` the seal is
        invisible. Not retried on failure (each call is a new signature)."""
        params = _params(
            level=level,
            family=family,
            page=page,
            box=",".join(f"{v:g}" for v in box) if box is not None else None,
            anchor=anchor,
            size=size,
            occurrence=occurrence,
            field_name=field_name,
            reason=reason,
        )
        response = self._call(
            "POST",
            f"/seals/{segment(es_id)}/pdf",
            params=params,
            content=pdf,
            headers={"Content-Type": "application/pdf"},
        )
        return response.content

    def ses_signature(
        self,
        es_id: str,
        *,
        property_info: str,
        data: bytes | None = None,
        data_hash: bytes | None = None,
        timestamp: bool = True,
    ) -> bytes:
        """``POST /seals/{es_id}/signatures``: a GB/T 38540 SES_Signature (DER) over ``data`` or its SM3 hash."""
        if (data is None) == (data_hash is None):
            raise InputError("give data or data_hash (the SM3 digest), one of them")
        body: dict[str, Any] = {"property_info": property_info, "timestamp": timestamp}
        if data is not None:
            body["data"] = base64.b64encode(data).decode()
        else:
            assert data_hash is not None
            body["data_hash"] = data_hash.hex()
        return self._call("POST", f"/seals/{segment(es_id)}/signatures", json=body).content

    # --- licences -------------------------------------------------------------------------------------------------

    def issue_license(
        self,
        issuer_id: str,
        type_code: str,
        fields: Mapping[str, Any],
        *,
        holder_code: str | None = None,
        valid_from: date | None = None,
        valid_until: date | None = None,
        holder_jwk: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> License:
        """``POST /licenses``: token, SD-JWT (bound to ``holder_jwk`` when given) and the ``HR1:`` QR payload."""
        body: dict[str, Any] = {"issuer_id": issuer_id, "type": type_code, "fields": dict(fields)}
        if holder_code is not None:
            body["holder_code"] = holder_code
        if valid_from is not None:
            body["valid_from"] = valid_from.isoformat()
        if valid_until is not None:
            body["valid_until"] = valid_until.isoformat()
        if holder_jwk is not None:
            body["holder_jwk"] = dict(holder_jwk)
        return License.model_validate(self._issuing("/licenses", body, idempotency_key))

    def license(self, identifier: str) -> License:
        """``GET /licenses/{identifier}``: the licence with its token and SD-JWT."""
        return License.model_validate(json_object(self._call("GET", f"/licenses/{segment(identifier)}")))

    def license_token(self, identifier: str) -> str:
        """The licence's compact JWS token."""
        return self.license(identifier).token

    def license_pdf(
        self, identifier: str, *, level: Literal["B-LT", "B-LTA"] = "B-LT", family: Family = "SM2"
    ) -> bytes:
        """``POST /licenses/{identifier}/pdf``: the licence printout sealed by the issuing authority."""
        params = {"level": level, "family": family}
        return self._call("POST", f"/licenses/{segment(identifier)}/pdf", params=params).content

    def _license_status(self, identifier: str, status: str, reason: str) -> License:
        body = {"status": status, "reason": reason}
        response = self._call("POST", f"/licenses/{segment(identifier)}/status", json=body)
        return License.model_validate(json_object(response))

    def suspend_license(self, identifier: str, reason: str = "") -> License:
        """Suspend (reversible; the status list says suspended)."""
        return self._license_status(identifier, "suspended", reason)

    def reinstate_license(self, identifier: str, reason: str = "") -> License:
        return self._license_status(identifier, "valid", reason)

    def revoke_license(self, identifier: str, reason: str = "") -> License:
        """Revoke for good."""
        return self._license_status(identifier, "revoked", reason)

    # --- public artefacts -----------------------------------------------------------------------------------------

    def timestamp(self, query: bytes, *, family: Literal["RSA", "SM2"] = "RSA") -> bytes:
        """``POST /tsa/{family}``: the DER TimeStampResp for a DER TimeStampReq (a rejection is a response too)."""
        response = self.transport.send(
            "POST",
            f"/tsa/{family.lower()}",
            idempotent=True,  # a second time-stamp of the same query does no harm
            content=query,
            headers={"Content-Type": "application/timestamp-query"},
        )
        return response.content

    def timestamp_data(
        self, data: bytes, *, family: Literal["RSA", "SM2"] = "RSA", hash_algorithm: str = "sha256"
    ) -> bytes:
        """A granted RFC 3161 time-stamp over ``data`` (DER TimeStampResp). The query carries a random nonce; the
        answer must be granted, carry that nonce and the data's imprint, and its token's signature must verify with
        the TSA certificate it carries (:func:`trust.formats.tsp.verify_response`) — else an error is raised.
        Whether that TSA is trusted is the verifier's question (``trust verify`` with the bundle)."""
        nonce = secrets.randbits(63)
        answer = self.timestamp(tsp.build_request(data, hash_algorithm=hash_algorithm, nonce=nonce), family=family)
        tsp.verify_response(answer, message=data, nonce=nonce)
        return answer

    def bundle(self) -> bytes:
        """``GET /bundle``: the signed offline bundle (JSON bytes, to save for ``trust verify --bundle``)."""
        return self.transport.send("GET", "/bundle", idempotent=True).content

    def trust_list(self) -> bytes:
        """``GET /trustlist``: the signed national trust list (JSON bytes)."""
        return self.transport.send("GET", "/trustlist", idempotent=True).content

    def log_checkpoint(self) -> str:
        """``GET /log/checkpoint``: the transparency log's latest checkpoint (a signed note, text)."""
        return self.transport.send("GET", "/log/checkpoint", idempotent=True).content.decode("utf-8", "replace")

    def log_consistency(self, old_size: int, new_size: int) -> list[bytes]:
        """``GET /log/proof/consistency``: the RFC 9162 consistency proof between two tree sizes."""
        params = {"old_size": old_size, "new_size": new_size}
        body = json_object(self.transport.send("GET", "/log/proof/consistency", idempotent=True, params=params))
        hashes = body.get("consistency")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise InputError("the consistency proof answer has no list of hashes")
        try:
            return [bytes.fromhex(h) for h in hashes]
        except ValueError:
            raise InputError("the consistency proof answer holds a hash that is not hex") from None

    def post_cosignature(self, checkpoint: str) -> dict[str, Any]:
        """``POST /log/cosignatures``: the checkpoint with this region's witness cosignature added."""
        return json_object(self._call("POST", "/log/cosignatures", idempotent=True, json={"checkpoint": checkpoint}))

    def roots(self) -> dict[str, str]:
        """``GET /roots``: the SHA-256 fingerprints of the national roots by family (what verifiers pin)."""
        body = json_object(self.transport.send("GET", "/roots", idempotent=True))
        fingerprints = body.get("fingerprints")
        if not isinstance(fingerprints, dict):
            raise InputError("the /roots answer has no fingerprints")
        return {str(k): str(v) for k, v in fingerprints.items()}


def _params(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


__all__ = ["PlatformClient", "client_id_of", "load_certificates"]
