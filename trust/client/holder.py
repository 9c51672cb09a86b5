"""The holder's side: fetch one's own licence by proof of possession of the holder key, and present it with
selective disclosure and key binding.

* :class:`HolderClient` — ``POST /holder/licenses/{identifier}`` (token, SD-JWT, QR payload) and
  ``POST /holder/licenses/{identifier}/pdf`` (the sealed licence PDF), each with a fresh holder proof
  (:mod:`trust.formats.holder_proof`: a JWT signed by the key bound at issuance, single use, one minute). Only a
  licence issued with ``holder_jwk`` can be fetched this way; the others are fetched by their issuing platform
  (:class:`~trust.client.platform.PlatformClient`). docs/SECURITY.md, "Holder retrieval".
* :func:`present_license` — an SD-JWT presentation (RFC 9901) disclosing only the named licence fields, with a
  KB-JWT over the verifier's nonce and audience when the holder key is given. Offline: no network.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Final, Literal

import httpx

from trust.client.errors import ProblemError, ServiceUnreachable
from trust.client.keys import HOLDER_PASSPHRASE_ENV, KeySource, load_signer
from trust.client.models import License
from trust.client.transport import RetryPolicy, Transport, json_object, segment
from trust.crypto.errors import InputError
from trust.crypto.signer import Signer
from trust.formats import holder_proof, sdjwt

FIELDS: Final = ("license", "fields")


class HolderClient:
    """Fetches the licences bound to one holder key."""

    def __init__(
        self,
        base_url: str,
        *,
        signer: Signer,
        audience: str | None = None,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.transport = Transport(base_url, timeout=timeout, retry=retry, http=http, sleep=sleep)
        self.signer = signer
        self.audience = audience or self.transport.base_url

    @classmethod
    def from_file(
        cls, base_url: str, *, key: KeySource | str, passphrase_env: str = HOLDER_PASSPHRASE_ENV, **options: Any
    ) -> HolderClient:
        """A client for the holder key in the key source ``key`` (``file:PATH``, :mod:`trust.client.keys`)."""
        return cls(base_url, signer=load_signer(key, passphrase_env=passphrase_env), **options)

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> HolderClient:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def proof(self, identifier: str) -> str:
        """A fresh holder proof for ``identifier`` (single use)."""
        return holder_proof.build(self.signer, identifier=identifier, audience=self.audience)

    def _post(self, path: str, identifier: str, *, retry: bool, **kwargs: Any) -> httpx.Response:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.transport.send(
                    "POST", path, idempotent=False, json={"proof": self.proof(identifier)}, **kwargs
                )
            except (ProblemError, ServiceUnreachable) as failure:
                server_side = isinstance(failure, ServiceUnreachable) or failure.status >= 500
                if retry and server_side and attempt < self.transport.retry.attempts:
                    self.transport.pause(self.transport.retry.wait(attempt))
                    continue  # with a new proof: a proof is single use
                raise

    def license(self, identifier: str) -> License:
        """The licence (token, SD-JWT, ``HR1:`` QR payload) bound to this holder key. Refused alike (403 ``E1403``)
        when the licence does not exist, has no holder key, or is bound to another key."""
        path = f"/holder/licenses/{segment(identifier)}"
        return License.model_validate(json_object(self._post(path, identifier, retry=True)))

    def license_pdf(
        self,
        identifier: str,
        *,
        level: Literal["B-LT", "B-LTA"] = "B-LT",
        family: Literal["SM2", "RSA", "dual"] = "SM2",
    ) -> bytes:
        """The licence PDF, sealed by the issuing authority. Not retried: each call makes a new seal signature."""
        path = f"/holder/licenses/{segment(identifier)}/pdf"
        return self._post(path, identifier, retry=False, params={"level": level, "family": family}).content


def disclosable_fields(sd_jwt: str) -> list[str]:
    """The licence fields an SD-JWT lets its holder disclose (the members of ``license.fields``)."""
    return [str(path[2]) for path in sdjwt.disclosable(sd_jwt) if path[:2] == FIELDS and len(path) == 3]


def present_license(
    sd_jwt: str,
    disclose: Sequence[str],
    *,
    holder: Signer | None = None,
    audience: str | None = None,
    nonce: str | None = None,
) -> str:
    """A presentation of the licence SD-JWT ``sd_jwt`` disclosing only the fields named in ``disclose`` (names of
    ``license.fields``, e.g. ``["name", "uscc"]``), key-bound (KB-JWT over ``nonce`` and ``audience``, signed by
    ``holder``, the key in ``cnf.jwk``) when ``holder`` is given.

    A name that is not a disclosable field of this licence is refused with the list of those that are."""
    if isinstance(disclose, str):
        raise InputError("disclose takes a list of field names, not one string")
    names = [name.strip() for name in disclose]
    if any(not name for name in names):
        raise InputError("an empty field name")
    offered = disclosable_fields(sd_jwt)
    unknown = [name for name in names if name not in offered]
    if unknown:
        raise InputError(
            f"this licence has no disclosable field {', '.join(repr(n) for n in unknown)}; "
            f"disclosable fields: {', '.join(offered) or 'none'}",
            evidence={"unknown": unknown, "disclosable": offered},
        )
    if holder is None and (audience is not None or nonce is not None):
        raise InputError("a nonce and an audience go into a key-binding JWT: give the holder key as well")
    presented = sdjwt.present(
        sd_jwt, [(*FIELDS, name) for name in names], holder_signer=holder, nonce=nonce, audience=audience
    )
    if not isinstance(presented, str):
        raise InputError("present the compact SD-JWT (the JSON serialisation is for libraries)")
    return presented


__all__ = ["HolderClient", "disclosable_fields", "present_license"]
