"""The one error root of Huren, with stable, append-only error codes.

Every error the project raises on purpose is a :class:`TrustError` carrying a :class:`Code`. A code has a
number that is never reused and never renumbered (like Boulder's problem types), a slug that appears in
RFC 9457 problem documents (``type`` = ``urn:huren:error:<slug>``) and a neutral :class:`Category` (input,
failed, indeterminate, configuration, environment, internal). The HTTP status of a code is decided by
``trust.http.problems`` and the CLI exit code by ``trust.cli.exits`` — those two modules are the only mappings;
this one knows no interface.

Rules for this file:

* Append new codes at the end of their block; never change a number, a slug or a category once landed.
* A message says what was wrong with the input and what to do, never a secret: no private key, no
  passphrase, no PIN, no unencrypted key bytes. ``evidence`` holds small public facts (expected vs. found).

It lives in the crypto layer because that layer is the bottom of the import graph (it imports nothing of the
project); every other layer can import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum
from typing import Any


class Category(Enum):
    """What kind of failure, in words of the caller's next step; neutral about interfaces. The HTTP status of a
    code is decided by ``trust.http.problems`` and the exit code by ``trust.cli.exits`` (from the code and its
    category), nowhere else."""

    INPUT = "input"  # the request or input must change: malformed, too large, unknown, refused, not allowed
    FAILED = "failed"  # a signature, proof or decryption did not verify
    INDETERMINATE = "indeterminate"  # well-formed but cannot be decided here (algorithm, curve, version)
    CONFIGURATION = "configuration"  # the service or CLI is not configured correctly
    ENVIRONMENT = "environment"  # a dependency (database, key store, library) is unavailable
    INTERNAL = "internal"  # a bug: an invariant does not hold


class Code(Enum):
    """Stable error codes: ``(number, slug, category, title)``. Append only."""

    # 1000-1099: generic input and configuration
    INVALID_INPUT = (1000, "invalid-input", Category.INPUT, "Invalid input")
    MALFORMED_ENCODING = (1001, "malformed-encoding", Category.INPUT, "Malformed DER, PEM or JSON")
    INPUT_TOO_LARGE = (1002, "input-too-large", Category.INPUT, "Input too large")
    NOT_FOUND = (1003, "not-found", Category.INPUT, "Not found")
    CONFLICT = (1004, "conflict", Category.INPUT, "Conflict with the current state")
    CONFIGURATION = (1005, "configuration", Category.CONFIGURATION, "Configuration error")
    UNAVAILABLE = (1006, "unavailable", Category.ENVIRONMENT, "Service dependency unavailable")
    INTERNAL = (1007, "internal", Category.INTERNAL, "Internal error")
    USAGE = (1008, "usage", Category.INPUT, "Invalid command or request usage")

    # 1100-1199: cryptography
    UNSUPPORTED_ALGORITHM = (1100, "unsupported-algorithm", Category.INDETERMINATE, "Unsupported algorithm")
    INVALID_KEY = (1101, "invalid-key", Category.INPUT, "Invalid key")
    WEAK_KEY = (1102, "weak-key", Category.INPUT, "Key too weak")
    INVALID_SIGNATURE = (1103, "invalid-signature", Category.FAILED, "Signature does not verify")
    MALFORMED_SIGNATURE = (1104, "malformed-signature", Category.FAILED, "Malformed signature value")
    KEY_MISMATCH = (1105, "key-mismatch", Category.INPUT, "Key does not fit the algorithm")
    DECRYPTION_FAILED = (1106, "decryption-failed", Category.FAILED, "Decryption or authentication failed")
    INVALID_PARAMETER = (1107, "invalid-parameter", Category.INPUT, "Invalid cryptographic parameter")
    CRYPTO_BACKEND = (1108, "crypto-backend", Category.ENVIRONMENT, "Cryptographic back end unavailable")

    # 1200-1299: key store
    KEYSTORE_PASSPHRASE_MISSING = (
        1200,
        "keystore-passphrase-missing",
        Category.CONFIGURATION,
        "Key store passphrase not configured",
    )
    KEYSTORE_WRONG_PASSPHRASE = (
        1201,
        "keystore-wrong-passphrase",
        Category.CONFIGURATION,
        "Wrong key store passphrase",
    )
    KEYSTORE_KEY_NOT_FOUND = (1202, "keystore-key-not-found", Category.INPUT, "Key not found in key store")
    KEYSTORE_KEY_EXISTS = (1203, "keystore-key-exists", Category.INPUT, "Key id already in use")
    KEYSTORE_CORRUPT = (1204, "keystore-corrupt", Category.ENVIRONMENT, "Key store entry corrupt")
    KEYSTORE_INSECURE = (1205, "keystore-insecure", Category.CONFIGURATION, "Key store permissions insecure")
    KEYSTORE_TOKEN_MISSING = (1206, "keystore-token-missing", Category.ENVIRONMENT, "PKCS#11 token not present")
    KEYSTORE_TOKEN_PIN = (1207, "keystore-token-pin", Category.CONFIGURATION, "PKCS#11 token PIN missing or refused")
    KEYSTORE_TOKEN_KEY_MISSING = (1208, "keystore-token-key-missing", Category.ENVIRONMENT, "Key missing on the token")
    KEYSTORE_TOKEN_UNAVAILABLE = (1209, "keystore-token-unavailable", Category.ENVIRONMENT, "PKCS#11 token failed")
    ROOT_OFFLINE = (1210, "root-offline", Category.INPUT, "National root key is offline: a ceremony is needed")
    CEREMONY_REQUEST_INVALID = (1211, "ceremony-request-invalid", Category.INPUT, "Root ceremony request refused")
    CEREMONY_RESPONSE_INVALID = (1212, "ceremony-response-invalid", Category.INPUT, "Root ceremony response refused")
    REKEY_TOKEN_MISMATCH = (
        1213,
        "rekey-token-mismatch",
        Category.CONFIGURATION,
        "Re-key target token is not the configured PKCS#11 token",
    )
    REKEY_NOT_ON_TOKEN = (1214, "rekey-not-on-token", Category.INPUT, "Key family cannot be made on the token")

    # 1300-1399: tokens and selective disclosure
    DISCLOSURE_INVALID = (1300, "disclosure-invalid", Category.FAILED, "Selective disclosure invalid")
    KEY_BINDING_FAILED = (1301, "key-binding-failed", Category.FAILED, "Holder key binding failed")

    # 1400-1499: the service's clients: authentication, authorisation, rate limits
    UNAUTHENTICATED = (1400, "unauthenticated", Category.INPUT, "Authentication required")
    INVALID_CLIENT = (1401, "invalid-client", Category.INPUT, "Client authentication failed")
    ASSERTION_REPLAYED = (1402, "assertion-replayed", Category.INPUT, "Client assertion already used")
    FORBIDDEN = (1403, "forbidden", Category.INPUT, "Not allowed for this client")
    RATE_LIMITED = (1404, "rate-limited", Category.INPUT, "Too many requests")

    # 1500-1599: federated identity (OpenID Federation 1.0 trust chains, OpenID Connect logins and ID tokens)
    ENTITY_STATEMENT_INVALID = (1500, "entity-statement-invalid", Category.INPUT, "Malformed entity statement")
    TRUST_CHAIN_INVALID = (1501, "trust-chain-invalid", Category.FAILED, "Trust chain does not validate")
    TRUST_CHAIN_EXPIRED = (1502, "trust-chain-expired", Category.FAILED, "Trust chain expired or not yet valid")
    TRUST_CHAIN_NOT_FOUND = (1503, "trust-chain-not-found", Category.INDETERMINATE, "No trust chain to the anchor")
    METADATA_POLICY_INVALID = (1504, "metadata-policy-invalid", Category.FAILED, "Metadata policies do not combine")
    METADATA_POLICY_VIOLATION = (1505, "metadata-policy-violation", Category.FAILED, "Metadata violates the policy")
    TRUST_MARK_INVALID = (1506, "trust-mark-invalid", Category.FAILED, "Trust mark invalid or revoked")
    ENTITY_WITHDRAWN = (1507, "entity-withdrawn", Category.FAILED, "Entity withdrawn from the trust list")
    ID_TOKEN_INVALID = (1508, "id-token-invalid", Category.FAILED, "ID token does not validate")
    ACR_INSUFFICIENT = (1509, "acr-insufficient", Category.FAILED, "Authentication level too low")
    OIDC_INVALID_REQUEST = (1510, "oidc-invalid-request", Category.INPUT, "Invalid OpenID Connect request")
    LOGIN_FAILED = (1511, "login-failed", Category.INPUT, "Login failed")

    # 1600-1699: licence sharing (证照共享): the national directory, consents, cross-region retrieval
    CONSENT_MISSING = (1600, "consent-missing", Category.INPUT, "No consent or legal basis for this request")
    CONSENT_OUT_OF_SCOPE = (1601, "consent-out-of-scope", Category.INPUT, "Consent does not cover this request")
    CONSENT_EXPIRED = (1602, "consent-expired", Category.INPUT, "Consent expired")
    CONSENT_REVOKED = (1603, "consent-revoked", Category.INPUT, "Consent withdrawn by the holder")
    REQUESTER_WITHDRAWN = (1604, "requester-withdrawn", Category.INPUT, "Requesting service withdrawn")
    SHARING_QUOTA_EXCEEDED = (1605, "sharing-quota-exceeded", Category.INPUT, "Sharing rate limit or quota exceeded")
    DIRECTORY_ENTRY_INVALID = (1606, "directory-entry-invalid", Category.INPUT, "Signed directory entry not valid")
    DIRECTORY_ENTRY_FOREIGN = (1607, "directory-entry-foreign", Category.INPUT, "Entry of another region's issuer")
    RETRIEVAL_EXPIRED = (1608, "retrieval-expired", Category.INPUT, "Issuing region did not answer in time")

    # 1700-1799: document packages (GB/T 33190 OFD)
    OFD_PACKAGE_INVALID = (1700, "ofd-package-invalid", Category.INPUT, "Malformed or unsafe OFD package")
    OFD_XML_INVALID = (1701, "ofd-xml-invalid", Category.INPUT, "Malformed or unsafe OFD XML")

    # 1800-1899: the issuance transparency log (RFC 9162 proofs, C2SP checkpoints, witnesses, monitoring)
    LOG_MALFORMED = (1800, "log-malformed", Category.INPUT, "Malformed log proof, checkpoint or note")
    LOG_PROOF_INVALID = (1801, "log-proof-invalid", Category.FAILED, "Inclusion proof does not verify")
    LOG_INCONSISTENT = (1802, "log-inconsistent", Category.FAILED, "Log checkpoints are inconsistent (fork)")
    LOG_SIGNATURE_INVALID = (1803, "log-signature-invalid", Category.FAILED, "Checkpoint signature does not verify")
    LOG_ENTRY_NOT_FOUND = (1804, "log-entry-not-found", Category.INPUT, "Not in the transparency log")
    LOG_NOT_PROVEN = (1805, "log-not-proven", Category.INDETERMINATE, "No proof of publication in the log")
    LOG_STALE = (1806, "log-stale", Category.FAILED, "Inclusion proof to a checkpoint the bundle does not vouch for")
    LOG_COSIGNATURE_MISSING = (
        1807,
        "log-cosignature-missing",
        Category.INPUT,
        "No new cosignature of a registered witness on the checkpoint",
    )

    @property
    def number(self) -> int:
        return int(self.value[0])

    @property
    def slug(self) -> str:
        return str(self.value[1])

    @property
    def category(self) -> Category:
        category = self.value[2]
        assert isinstance(category, Category)
        return category

    @property
    def title(self) -> str:
        return str(self.value[3])

    @property
    def type_uri(self) -> str:
        """The RFC 9457 ``type`` of problem documents with this code."""
        return f"urn:huren:error:{self.slug}"

    @property
    def label(self) -> str:
        """``E1103`` — how the code appears in logs and CLI messages."""
        return f"E{self.number}"


class TrustError(Exception):
    """Root of every error Huren raises on purpose.

    ``message`` is for people and must be specific (what was wrong, where, what to do); ``evidence`` holds
    small public facts (e.g. ``{"expected": "...", "found": "..."}``) that reports and problem documents
    carry verbatim.
    """

    default_code: Code = Code.INTERNAL

    def __init__(self, message: str, *, code: Code | None = None, evidence: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.evidence: dict[str, Any] = dict(evidence or {})

    def diagnostics(self) -> str:
        """A text for people: the code, the message and the evidence, one fact per line."""
        lines = [f"{self.code.label} {self.code.slug}: {self.message}"]
        lines.extend(f"  {key}: {value}" for key, value in self.evidence.items())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code.label}, {self.message!r})"


class InputError(TrustError):
    """The input is malformed or not acceptable."""

    default_code = Code.INVALID_INPUT


class EncodingError(InputError):
    """DER, PEM, JSON or another encoding could not be parsed."""

    default_code = Code.MALFORMED_ENCODING


class NotFoundError(TrustError):
    default_code = Code.NOT_FOUND


class ConflictError(TrustError):
    default_code = Code.CONFLICT


class ConfigError(TrustError):
    default_code = Code.CONFIGURATION


class UnavailableError(TrustError):
    default_code = Code.UNAVAILABLE


class AuthenticationError(TrustError):
    """The caller is not authenticated (no, expired, replayed or otherwise unacceptable credentials)."""

    default_code = Code.UNAUTHENTICATED


class ForbiddenError(TrustError):
    """The authenticated caller may not do this (policy layer)."""

    default_code = Code.FORBIDDEN


class RateLimitedError(TrustError):
    default_code = Code.RATE_LIMITED


class CryptoError(TrustError):
    """Base of the errors of the crypto layer."""

    default_code = Code.INVALID_PARAMETER


class UnsupportedAlgorithm(CryptoError):
    default_code = Code.UNSUPPORTED_ALGORITHM


class InvalidKey(CryptoError):
    """A key is malformed or out of range (off-curve point, private scalar outside [1, n-2], ...)."""

    default_code = Code.INVALID_KEY


class WeakKey(InvalidKey):
    default_code = Code.WEAK_KEY


class InvalidSignature(CryptoError):
    """A signature does not verify. ``verify()`` raises it; it never returns ``False``."""

    default_code = Code.INVALID_SIGNATURE


class MalformedSignature(InvalidSignature):
    """The signature value is not a valid encoding (non-canonical DER, r or s out of range, ...)."""

    default_code = Code.MALFORMED_SIGNATURE


class DecryptionFailed(CryptoError):
    default_code = Code.DECRYPTION_FAILED


class BackendUnavailable(CryptoError):
    default_code = Code.CRYPTO_BACKEND


class KeyStoreError(TrustError):
    default_code = Code.KEYSTORE_CORRUPT


class PassphraseError(KeyStoreError):
    """No passphrase configured, or a wrong one."""

    default_code = Code.KEYSTORE_WRONG_PASSPHRASE


class FederationError(TrustError):
    """A federation entity statement, trust chain, metadata policy or trust mark is not acceptable."""

    default_code = Code.TRUST_CHAIN_INVALID


class IdTokenError(TrustError):
    """An OpenID Connect ID token (or the login it ends) is not acceptable to a relying party."""

    default_code = Code.ID_TOKEN_INVALID


class SharingRefused(TrustError):
    """A directory lookup or licence retrieval is refused: no consent, consent for something else, expired or
    withdrawn consent, a withdrawn requesting service or region (nothing is disclosed)."""

    default_code = Code.CONSENT_MISSING
