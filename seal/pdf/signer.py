"""pyHanko's signing extension point over the project's :class:`~trust.crypto.signer.Signer` (SM2 with SM3, RSA,
ECDSA; every signature verified before it is embedded) and an RFC 3161 time-stamper over a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asn1crypto import tsp, x509
from pyhanko.sign import signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.timestamps import TimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore

from seal.pdf.attribute import SealSignedAttributes
from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import (
    Code,
    InputError,
    InvalidSignature,
    TrustError,
    UnavailableError,
)
from trust.crypto.signer import Signer as TrustSigner
from trust.crypto.sm2 import DEFAULT_USER_ID


def _placeholder_length(signer: TrustSigner) -> int:
    """An upper bound of the DER signature length, for pyHanko's size estimate (dry run)."""
    key = signer.public_key
    if key.family is KeyFamily.RSA:
        return (key.size + 7) // 8
    width = (key.size + 7) // 8 + 1  # INTEGER with a possible leading zero
    return 2 * (width + 2) + 4


class HurenPdfSigner(signers.Signer):
    """A pyHanko :class:`~pyhanko.sign.signers.pdf_cms.Signer` over a :class:`trust.crypto.signer.Signer`.

    ``chain`` holds the issuer certificates (up to the root) that go into the CMS with the signer certificate;
    ``seal_der`` (optional) adds the SESeal signed attribute. The signature mechanism is the signer's own
    X.509 AlgorithmIdentifier (SM2: ``sm2_sm3`` with absent parameters)."""

    def __init__(
        self,
        signer: TrustSigner,
        certificate: x509.Certificate,
        chain: Sequence[x509.Certificate] = (),
        *,
        seal_der: bytes | None = None,
        embed_roots: bool = True,
    ):
        spki = certificate["tbs_certificate"]["subject_public_key_info"].dump()
        if signer.public_key.spki_der() != spki:
            raise InputError("the signer's key is not the key of the signer certificate", code=Code.KEY_MISMATCH)
        if signer.algorithm.family is KeyFamily.SM2 and signer.user_id != DEFAULT_USER_ID:
            raise InputError("PDF seals use the GB/T 35276 default SM2 user ID; verifiers know no other")
        self._signer = signer
        unique: dict[bytes, x509.Certificate] = {}
        for cert in chain:
            if cert.dump() != certificate.dump():  # pyHanko adds the signing certificate itself: not twice
                unique.setdefault(cert.dump(), cert)
        certs = list(unique.values())
        super().__init__(
            signing_cert=certificate,
            cert_registry=SimpleCertificateStore.from_certs(certs),
            signature_mechanism=signer.algorithm.x509_identifier(),
            embed_roots=embed_roots,
        )
        self.signed_attr_prov_spec = SealSignedAttributes(certificate, seal_der)

    @property
    def digest_algorithm(self) -> str:
        return self._signer.algorithm.hash

    @property
    def signature_size_bound(self) -> int:
        """Bytes the DER signature value takes at most."""
        return _placeholder_length(self._signer)

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm.lower() != self._signer.algorithm.hash:
            raise SigningError(
                f"{self._signer.algorithm.name} signs with {self._signer.algorithm.hash}, not {digest_algorithm}"
            )
        if dry_run:
            return bytes(self.signature_size_bound)
        signature = self._signer.sign(data)
        try:  # a fault or a key mix-up never leaves as an embedded signature
            self._signer.public_key.verify(signature, data, self._signer.algorithm, user_id=self._signer.user_id)
        except InvalidSignature as exc:
            raise TrustError(f"PDF signature self-check failed: {exc.message}", code=Code.INTERNAL) from exc
        return signature


class CallableTimeStamper(TimeStamper):
    """A pyHanko :class:`TimeStamper` that hands the DER ``TimeStampReq`` to ``respond`` and reads the DER
    ``TimeStampResp`` it returns — e.g. ``lambda req: trust.service.tsa.timestamp(instance, req, "SM2")``
    in-process, or an HTTP POST to ``/tsa/sm2``. A refusal raises :class:`UnavailableError` with the TSA's text."""

    def __init__(self, respond: Callable[[bytes], bytes], *, name: str = "TSA", include_nonce: bool = True):
        super().__init__(include_nonce=include_nonce)  # type: ignore[no-untyped-call]  # pyHanko's is unannotated
        self._respond = respond
        self.name = name

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        from trust.formats import tsp as tsa_format

        der = self._respond(req.dump())
        status = tsa_format.response_status(der)
        if not status.granted:
            raise UnavailableError(
                f"the {self.name} refused the time-stamp request: {status.status}"
                + (f" ({status.text})" if status.text else ""),
                evidence={"status": status.status, "fail_info": sorted(status.fail_info)},
            )
        return tsp.TimeStampResp.load(der)
