"""The Huren client: Python calls for regional and departmental platforms and for licence holders, over HTTP.

* :class:`PlatformClient` — a platform's typed calls of the issuing routes (access token from an RFC 7523 client
  assertion, renewed before it expires; certificates, seals, sealed PDFs, GB/T 38540 signatures, licences and their
  PDFs and status, time-stamps, the bundle, the trust list and the root pins).
* :class:`HolderClient` and :func:`present_license` — a holder fetches the licences bound to their key and presents
  one with selective disclosure and key binding.
* :class:`ProblemError` — the service's RFC 9457 problems, with its code (``err.code is Code.FORBIDDEN``);
  :class:`ServiceUnreachable` — no answer. Retries: :mod:`trust.client.transport`.
* :class:`KeySource` and :func:`load_signer` — ``file:PATH`` keys (encrypted PKCS#8 with the passphrase from the
  environment, or plain PEM); or ``pkcs11:`` (an RFC 7512 URI of a key on a token).

The client talks HTTP only (httpx): it imports :mod:`trust.crypto` and :mod:`trust.formats`, never the service, its
database or its HTTP app (import-linter checks it), so a platform can use it against any Huren deployment. The
``trust client token``, ``trust license fetch`` and ``trust license present`` commands are thin layers over it.
docs/EXAMPLES.md walks through it.
"""

from __future__ import annotations

from trust.client.errors import ProblemError, ServiceUnreachable
from trust.client.holder import HolderClient, disclosable_fields, present_license
from trust.client.keys import HOLDER_PASSPHRASE_ENV, PLATFORM_PASSPHRASE_ENV, KeySource, load_signer
from trust.client.models import AccessToken, Certificate, License, Seal, Subject
from trust.client.platform import PlatformClient, load_certificates
from trust.client.transport import RetryPolicy

__all__ = [
    "HOLDER_PASSPHRASE_ENV",
    "PLATFORM_PASSPHRASE_ENV",
    "AccessToken",
    "Certificate",
    "HolderClient",
    "KeySource",
    "License",
    "PlatformClient",
    "ProblemError",
    "RetryPolicy",
    "Seal",
    "ServiceUnreachable",
    "Subject",
    "disclosable_fields",
    "load_certificates",
    "load_signer",
    "present_license",
]
