"""Where a platform's or a holder's signing key comes from: ``file:PATH`` or a ``pkcs11:`` URI.

A key source is written ``SCHEME:LOCATION``; a bare path means ``file:``.

* ``file:PATH`` — a private key file: PKCS#8 encrypted with PBES2 (``ENCRYPTED PRIVATE KEY``; what
  ``trust client keygen`` and ``trust license keygen`` write, and ``openssl pkcs8 -topk8 -v2 aes-256-cbc``), or a
  plain PEM/DER key the platform's own tooling made (PKCS#8, SEC 1 ``EC PRIVATE KEY``/``SM2 PRIVATE KEY``, PKCS#1).
  The passphrase of an encrypted file comes from the environment only — a variable, or a file named by the variable
  ``<NAME>_FILE`` (never a command-line argument: it would show in ``ps`` and the shell history).
* ``pkcs11:…`` — an RFC 7512 PKCS#11 URI of an RSA or EC key on a token, e.g.
  ``pkcs11:token=platform;object=zj-client;type=private`` (path attributes ``token`` (required), ``object``, ``id``,
  ``type``; query attribute ``module-path``, else ``$TRUST_PKCS11_MODULE``). The PIN comes from
  ``$TRUST_PKCS11_PIN`` or the file named by ``$TRUST_PKCS11_PIN_FILE``; ``pin-value`` and ``pin-source`` in the URI
  are refused (a PIN must never be on a command line). Signing is ``C_Sign`` on the token
  (:func:`trust.crypto.pkcs11.token_signer`, the ``huren[hsm]`` extra); the key never leaves it.

Private key material never appears in an error message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import unquote, unquote_to_bytes

from trust.crypto import pkcs8
from trust.crypto.errors import Code, InputError, TrustError
from trust.crypto.keys import MAX_KEY_INPUT, PrivateKey, load_private_key
from trust.crypto.signer import Signer

SCHEMES: Final = ("file", "pkcs11")
PLATFORM_PASSPHRASE_ENV: Final = "TRUST_CLIENT_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
HOLDER_PASSPHRASE_ENV: Final = "TRUST_HOLDER_KEY_PASSPHRASE"  # noqa: S105 - a variable name, not a secret
MIN_NEW_PASSPHRASE_BYTES: Final = 12
_SCHEME: Final = re.compile(r"^([a-z][a-z0-9+.-]+):(.*)$", re.DOTALL)


@dataclass(frozen=True)
class KeySource:
    """A parsed key source: ``scheme`` (``file`` or ``pkcs11``) and ``location`` (a path, or the URI's rest)."""

    scheme: str
    location: str

    @classmethod
    def parse(cls, text: str) -> KeySource:
        """``file:PATH``, ``pkcs11:…`` or a bare path; anything else is a usage error naming the schemes."""
        value = text.strip()
        if not value:
            raise InputError("empty key source; give file:PATH (or a path)", code=Code.USAGE)
        matched = _SCHEME.match(value)
        if matched is None:
            return cls("file", value)
        scheme, location = matched.group(1), matched.group(2)
        if scheme not in SCHEMES:
            raise InputError(
                f"unknown key source scheme {scheme!r}: use file:PATH (a key file) or pkcs11:URI (a key on a token)",
                code=Code.USAGE,
            )
        if not location:
            raise InputError(f"key source {scheme}: names nothing", code=Code.USAGE)
        return cls(scheme, location)

    def __str__(self) -> str:
        return f"{self.scheme}:{self.location}"


def passphrase(variable: str, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The passphrase in ``$variable`` or in the file named by ``$<variable>_FILE``; None when neither is set."""
    env = os.environ if environ is None else environ
    direct, named = env.get(variable), env.get(f"{variable}_FILE")
    if direct and named:
        raise InputError(f"both {variable} and {variable}_FILE are set; set one of them", code=Code.USAGE)
    if named:
        try:
            return Path(named).read_bytes().rstrip(b"\r\n")
        except OSError as exc:
            raise InputError(f"cannot read the passphrase file named by {variable}_FILE: {exc.strerror}") from None
    return direct.encode() if direct else None


def load_private_key_file(path: Path, *, passphrase_env: str, environ: Mapping[str, str] | None = None) -> PrivateKey:
    """The private key in ``path`` (encrypted PKCS#8 with the passphrase from ``passphrase_env``, or plain)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_KEY_INPUT + 1)
    except OSError as exc:
        raise InputError(f"cannot read the key file {path}: {exc.strerror}") from None
    secret = passphrase(passphrase_env, environ)
    if secret is None and (b"ENCRYPTED PRIVATE KEY" in data[:200] or pkcs8.looks_encrypted(data)):
        raise InputError(
            f"the key file {path} is encrypted: set {passphrase_env} (or {passphrase_env}_FILE, a file holding the "
            "passphrase)",
            code=Code.USAGE,
        )
    try:
        return load_private_key(data, secret)
    except TrustError as exc:  # the key module's messages never quote key material
        raise type(exc)(f"the key file {path} is not a usable private key: {exc.message}", code=exc.code) from None


def load_signer(
    source: KeySource | str, *, passphrase_env: str = PLATFORM_PASSPHRASE_ENV, environ: Mapping[str, str] | None = None
) -> Signer:
    """A :class:`~trust.crypto.signer.Signer` for a key source, with the key's default algorithm (SM2 with SM3 and the
    default ID, ES256/ES384 by curve, RS256 for RSA)."""
    parsed = KeySource.parse(source) if isinstance(source, str) else source
    if parsed.scheme == "pkcs11":
        return _pkcs11_signer(parsed.location, environ)
    return load_private_key_file(Path(parsed.location), passphrase_env=passphrase_env, environ=environ).signer()


_P11_PATH_ATTRS: Final = frozenset({"token", "object", "id", "type", "manufacturer", "model", "serial",
                                    "library-manufacturer", "library-description", "library-version", "slot-id",
                                    "slot-description", "slot-manufacturer"})  # fmt: skip
_P11_QUERY_ATTRS: Final = frozenset({"module-path", "module-name"})


def parse_pkcs11_uri(location: str) -> tuple[dict[str, str], dict[str, str]]:
    """The path and query attributes of an RFC 7512 URI (after ``pkcs11:``), percent-decoded to text except ``id``
    (left encoded: the caller decodes it to bytes). PINs in the URI are refused."""
    path, _, query = location.partition("?")
    attrs: list[dict[str, str]] = [{}, {}]
    for index, (part, separator, known) in enumerate(((path, ";", _P11_PATH_ATTRS), (query, "&", _P11_QUERY_ATTRS))):
        for item in filter(None, part.split(separator)):
            name, equals, value = item.partition("=")
            if name in ("pin-value", "pin-source"):
                raise InputError(
                    "a PIN never goes into a key source (it would show in ps and the shell history): set "
                    "TRUST_PKCS11_PIN or TRUST_PKCS11_PIN_FILE",
                    code=Code.USAGE,
                )
            if not equals or name not in known or name in attrs[index]:
                raise InputError(f"PKCS#11 URI attribute {name!r} is unknown, repeated or empty", code=Code.USAGE)
            if name == "id":  # binary: percent-decoded to bytes by the caller
                attrs[index][name] = value
                continue
            try:
                attrs[index][name] = unquote(value, errors="strict")
            except UnicodeDecodeError:
                raise InputError(f"PKCS#11 URI attribute {name!r} is not UTF-8", code=Code.USAGE) from None
    return attrs[0], attrs[1]


def _pkcs11_signer(location: str, environ: Mapping[str, str] | None) -> Signer:
    env = os.environ if environ is None else environ
    path, query = parse_pkcs11_uri(location)
    module = query.get("module-path") or env.get("TRUST_PKCS11_MODULE")
    if "token" not in path or not module:
        raise InputError(
            "a pkcs11: key source needs token=LABEL, and module-path=… or $TRUST_PKCS11_MODULE", code=Code.USAGE
        )
    if path.get("type", "private") != "private":
        raise InputError("a pkcs11: key source names a private key (type=private)", code=Code.USAGE)
    try:
        ckaid = unquote_to_bytes(path["id"]) if "id" in path else None
        from trust.crypto.pkcs11 import TokenConfig, pin_from_env, token_signer
    except ImportError:
        raise InputError("pkcs11: key sources need python-pkcs11: install huren[hsm]", code=Code.USAGE) from None
    config = TokenConfig(module, path["token"], pin_from_env(env), pool_size=1)
    return token_signer(config, label=path.get("object"), ckaid=ckaid)


def new_passphrase(variable: str, environ: Mapping[str, str] | None = None) -> bytes:
    """The passphrase to encrypt a new key with: required, at least :data:`MIN_NEW_PASSPHRASE_BYTES` bytes."""
    secret = passphrase(variable, environ)
    if secret is None:
        raise InputError(
            f"set {variable} (or {variable}_FILE) to the passphrase that will protect the new key", code=Code.USAGE
        )
    if len(secret) < MIN_NEW_PASSPHRASE_BYTES:
        raise InputError(f"the passphrase in {variable} is shorter than {MIN_NEW_PASSPHRASE_BYTES} bytes")
    return secret


__all__ = [
    "HOLDER_PASSPHRASE_ENV",
    "PLATFORM_PASSPHRASE_ENV",
    "SCHEMES",
    "KeySource",
    "load_private_key_file",
    "load_signer",
    "new_passphrase",
    "passphrase",
]
