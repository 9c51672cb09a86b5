"""PKCS#11 key store: RSA and EC private keys on a hardware token (an HSM, or SoftHSM2 in tests).

:class:`TokenKeyStore` implements :class:`~trust.crypto.keystore.KeyStore`, so callers do not change: they hold key
ids and get :class:`~trust.crypto.signer.Signer` objects whose ``sign`` calls ``C_Sign`` on the token
(OASIS PKCS#11 Base Specification 2.40). The binding is python-pkcs11 (the ``huren[hsm]`` extra); the verifier never
imports this module (``lint-imports`` forbids ``pkcs11`` under ``verifier``).

Keys
    RSA (2048-4096 bits) and EC P-256/P-384 keys are generated on the token with ``CKA_TOKEN``, ``CKA_PRIVATE``,
    ``CKA_SENSITIVE`` true and ``CKA_EXTRACTABLE`` false: the private key cannot be read out, wrapped or copied
    off the token. :meth:`TokenKeyStore.import_key` puts an existing software key on the token with the same
    attributes (the CA flows today make a key in software and store it; see ``docs/HSM.md``).
    SM2 has no standard PKCS#11 mechanism; SM2 keys stay in the passphrase-encrypted
    :class:`~trust.crypto.keystore.FileKeyStore` beside the token, and ``trust keys list`` says which key lives where.

Key ids
    A token key's id is ``p11:<token label>/<CKA_ID in hex>``: the token it lives on and its ``CKA_ID`` (the first
    8 bytes of the SHA-256 fingerprint of its SubjectPublicKeyInfo). It fits the ``key_id`` columns (64 characters)
    that already hold file key ids (``rsa-…``, ``sm2-…``), so the tables that name keys do not change.

Mechanisms
    RSA PKCS#1 v1.5: ``CKM_SHA{256,384,512}_RSA_PKCS``; RSASSA-PSS: ``CKM_SHA{256,384,512}_RSA_PKCS_PSS`` with
    ``CK_RSA_PKCS_PSS_PARAMS`` (hash, MGF1 hash, salt length); ECDSA: the digest is computed here and signed with
    ``CKM_ECDSA`` (SoftHSM2 as packaged by Debian has no ``CKM_ECDSA_SHA256``), the raw ``r || s`` re-encoded as DER
    when asked for.

PIN
    ``TRUST_PKCS11_PIN``, or a file named by ``TRUST_PKCS11_PIN_FILE`` (one of the two) — never a command-line
    argument, never in settings dumps, never in an error message.

Threads and processes
    python-pkcs11 calls ``C_Initialize(NULL)``, which tells the module (PKCS#11 2.40 clause 5.4) that the application
    will not call it from several threads at once. So every call into the module goes through one lock per process;
    sessions come from a pool (one per concurrent caller, reused), and a worker process that was forked after the
    module was initialised initialises it again (clause 6.7.7: a child must call ``C_Initialize``). Several worker
    processes are several PKCS#11 applications and sign in parallel.

Errors
    A missing token (:attr:`Code.KEYSTORE_TOKEN_MISSING`), a wrong or locked PIN (:attr:`Code.KEYSTORE_TOKEN_PIN`),
    a key deleted on the token (:attr:`Code.KEYSTORE_TOKEN_KEY_MISSING`) and any other token failure — removed
    mid-run, device error (:attr:`Code.KEYSTORE_TOKEN_UNAVAILABLE`) — are :class:`KeyStoreError` with stable codes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pkcs11
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.util.ec import encode_named_curve_parameters
from pkcs11.util.rsa import decode_rsa_private_key

from trust.crypto.algorithms import KeyFamily, SignatureAlgorithm, digest
from trust.crypto.ecsig import SignatureEncoding, encode_signature
from trust.crypto.errors import Code, ConfigError, InputError, KeyStoreError
from trust.crypto.keys import ECPublicKey, PrivateKey, PublicKey, generate_private_key, public_key_from_spki
from trust.crypto.keystore import FileKeyStore, KeyInfo
from trust.crypto.signer import Signer
from trust.crypto.sm2 import DEFAULT_USER_ID

PIN_ENV: Final = "TRUST_PKCS11_PIN"
PIN_FILE_ENV: Final = "TRUST_PKCS11_PIN_FILE"
KEY_ID_PREFIX: Final = "p11:"
_LABEL_RE: Final = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_KEY_ID_RE: Final = re.compile(r"^p11:([A-Za-z0-9._-]{1,32})/([0-9a-f]{16})$")
_CURVES: Final = {"ec-p256": ("secp256r1", "1.2.840.10045.3.1.7"), "ec-p384": ("secp384r1", "1.3.132.0.34")}
_RSA_BITS: Final = {"rsa-2048": 2048, "rsa-3072": 3072, "rsa-4096": 4096}
_RSA_PKCS1: Final = {"sha256": Mechanism.SHA256_RSA_PKCS, "sha384": Mechanism.SHA384_RSA_PKCS,
                     "sha512": Mechanism.SHA512_RSA_PKCS}  # fmt: skip
_RSA_PSS: Final = {"sha256": Mechanism.SHA256_RSA_PKCS_PSS, "sha384": Mechanism.SHA384_RSA_PKCS_PSS,
                   "sha512": Mechanism.SHA512_RSA_PKCS_PSS}  # fmt: skip
_PSS_HASH: Final = {"sha256": Mechanism.SHA256, "sha384": Mechanism.SHA384, "sha512": Mechanism.SHA512}
_MGF: Final = {"sha256": pkcs11.MGF.SHA256, "sha384": pkcs11.MGF.SHA384, "sha512": pkcs11.MGF.SHA512}
# Attributes that keep a private key on the token (PKCS#11 2.40 clause 4.9, table 25).
_PRIVATE_TEMPLATE: Final[Mapping[Attribute, Any]] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: True,
    Attribute.SENSITIVE: True,
    Attribute.EXTRACTABLE: False,
    Attribute.SIGN: True,
    Attribute.DECRYPT: False,
    Attribute.UNWRAP: False,
    Attribute.DERIVE: False,
}
_UNKNOWN: Final = datetime.fromtimestamp(0, UTC)
_PUBLIC_TEMPLATE: Final[Mapping[Attribute, Any]] = {
    Attribute.TOKEN: True,
    Attribute.PRIVATE: False,
    Attribute.VERIFY: True,
    Attribute.ENCRYPT: False,
    Attribute.WRAP: False,
    Attribute.DERIVE: False,
}


def pin_from_env(environ: Mapping[str, str] | None = None) -> str:
    """The token's user PIN from ``TRUST_PKCS11_PIN`` or the file named by ``TRUST_PKCS11_PIN_FILE``."""
    env = os.environ if environ is None else environ
    direct, path = env.get(PIN_ENV), env.get(PIN_FILE_ENV)
    if direct and path:
        raise KeyStoreError(f"both {PIN_ENV} and {PIN_FILE_ENV} are set; set exactly one", code=Code.KEYSTORE_TOKEN_PIN)
    if path:
        try:
            return Path(path).read_text().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise KeyStoreError(
                f"cannot read the PIN file named by {PIN_FILE_ENV}: {reason}", code=Code.KEYSTORE_TOKEN_PIN
            ) from None
    if direct:
        return direct
    raise KeyStoreError(f"no token PIN: set {PIN_ENV} or {PIN_FILE_ENV}", code=Code.KEYSTORE_TOKEN_PIN)


@dataclass(frozen=True)
class TokenConfig:
    """Which PKCS#11 module and token; the PIN is held but never shown (``repr`` hides it)."""

    module: str
    token_label: str
    pin: str = field(repr=False)
    pool_size: int = 4
    wait_seconds: float = 30.0

    def __post_init__(self) -> None:
        if not _LABEL_RE.match(self.token_label):
            raise ConfigError(
                f"token label {self.token_label!r}: Huren names tokens by labels of 1-32 letters, digits, '.', '_', '-'"
            )
        if not 1 <= self.pool_size <= 64:
            raise ConfigError("PKCS#11 session pool size must be between 1 and 64")


def _token_error(exc: Exception, what: str) -> KeyStoreError:
    """One mapping of python-pkcs11's exceptions to stable codes; messages name the failure, never the PIN."""
    name = type(exc).__name__
    if isinstance(exc, p11e.NoSuchToken | p11e.TokenNotPresent | p11e.TokenNotRecognised | p11e.SlotIDInvalid):
        return KeyStoreError(f"{what}: the token is not present ({name})", code=Code.KEYSTORE_TOKEN_MISSING)
    if isinstance(exc, p11e.PinIncorrect | p11e.PinInvalid | p11e.PinLenRange | p11e.PinLocked | p11e.PinExpired):
        return KeyStoreError(f"{what}: the token refused the PIN ({name})", code=Code.KEYSTORE_TOKEN_PIN)
    if isinstance(exc, p11e.NoSuchKey | p11e.KeyHandleInvalid | p11e.ObjectHandleInvalid):
        return KeyStoreError(f"{what}: the key is not on the token ({name})", code=Code.KEYSTORE_TOKEN_KEY_MISSING)
    return KeyStoreError(f"{what}: the token failed ({name})", code=Code.KEYSTORE_TOKEN_UNAVAILABLE)


_SESSION_GONE = (
    p11e.SessionClosed,
    p11e.SessionHandleInvalid,
    p11e.DeviceRemoved,
    p11e.TokenNotPresent,
    p11e.UserNotLoggedIn,
    p11e.DeviceError,
)


class TokenPool:
    """The logged-in sessions of one token, shared by the threads of one process.

    All calls into the module hold :attr:`lock` (see the module docstring); a session is checked out by one caller at
    a time. A session that failed because the token went away or was logged out is dropped, never returned."""

    def __init__(self, config: TokenConfig):
        self.config = config
        self.lock = threading.RLock()
        self._idle: queue.LifoQueue[pkcs11.Session] = queue.LifoQueue()
        self._open = 0
        self._slots = threading.BoundedSemaphore(config.pool_size)
        self._pid = os.getpid()
        self._lib: Any = None
        self._token: pkcs11.Token | None = None
        with self.lock:
            self._connect()

    def _connect(self) -> None:
        try:
            self._lib = pkcs11.lib(self.config.module)
        except Exception as exc:  # noqa: BLE001 - dlopen and symbol errors come as several types
            raise ConfigError(f"cannot load the PKCS#11 module {self.config.module}: {type(exc).__name__}") from None
        try:
            self._token = self._lib.get_token(token_label=self.config.token_label)
        except p11e.PKCS11Error as exc:  # (before RuntimeError: python-pkcs11's errors are RuntimeErrors)
            raise _token_error(exc, f"token {self.config.token_label!r}") from None
        # Log in once now: a wrong PIN is reported when the store opens, before any issuance starts.
        session = self._new_session()
        self._idle.put(session)

    def _new_session(self) -> pkcs11.Session:
        assert self._token is not None
        try:
            session = self._token.open(rw=True, user_pin=self.config.pin)
        except p11e.UserAlreadyLoggedIn:  # login state is per application (clause 5.6); another session has it
            session = self._token.open(rw=True)
        except p11e.PKCS11Error as exc:
            raise _token_error(exc, f"token {self.config.token_label!r}") from None
        self._open += 1
        return session

    def _after_fork(self) -> None:
        """A forked worker inherits handles that mean nothing in it: initialise the module again (clause 6.7.7)."""
        if os.getpid() == self._pid:
            return
        self._pid = os.getpid()
        self._idle = queue.LifoQueue()
        self._open = 0
        with contextlib.suppress(p11e.PKCS11Error):
            self._lib.reinitialize()
        self._connect()

    @contextlib.contextmanager
    def session(self, what: str) -> Iterator[pkcs11.Session]:
        """A logged-in session for one operation, under the module lock; token failures become KeyStoreError."""
        if not self._slots.acquire(timeout=self.config.wait_seconds):
            raise KeyStoreError(f"{what}: no PKCS#11 session free", code=Code.KEYSTORE_TOKEN_UNAVAILABLE)
        try:
            with self.lock:
                self._after_fork()
                try:
                    session = self._idle.get_nowait()
                except queue.Empty:
                    session = self._new_session()
                try:
                    yield session
                except _SESSION_GONE as exc:
                    self._drop(session)
                    raise _token_error(exc, what) from None
                except p11e.PKCS11Error as exc:
                    self._idle.put(session)
                    raise _token_error(exc, what) from None
                except BaseException:
                    self._idle.put(session)
                    raise
                else:
                    self._idle.put(session)
        finally:
            self._slots.release()

    def _drop(self, session: pkcs11.Session) -> None:
        self._open -= 1
        with contextlib.suppress(p11e.PKCS11Error):
            session.close()

    def close(self) -> None:
        with self.lock:
            while True:
                try:
                    self._drop(self._idle.get_nowait())
                except queue.Empty:
                    break


def _parse_key_id(key_id: str) -> tuple[str, bytes]:
    match = _KEY_ID_RE.match(key_id)
    if match is None:
        raise KeyStoreError(f"invalid token key id {key_id!r}", code=Code.KEYSTORE_KEY_NOT_FOUND)
    return match.group(1), bytes.fromhex(match.group(2))


def _public_from_token(obj: Any) -> PublicKey:
    """The SubjectPublicKeyInfo of a token public key object (its public attributes only)."""
    key_type = obj[Attribute.KEY_TYPE]
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(obj[Attribute.MODULUS], "big")
        exponent = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
        info = asn1_keys.PublicKeyInfo(
            {
                "algorithm": {"algorithm": "rsa", "parameters": asn1_core.Null()},
                "public_key": asn1_keys.RSAPublicKey({"modulus": modulus, "public_exponent": exponent}),
            }
        )
    elif key_type == KeyType.EC:
        params = asn1_keys.ECDomainParameters.load(obj[Attribute.EC_PARAMS])
        point = bytes(asn1_core.OctetString.load(obj[Attribute.EC_POINT]))
        info = asn1_keys.PublicKeyInfo({"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": point})
    else:
        raise KeyStoreError(f"token key of type {key_type!r} is not RSA or EC")
    return public_key_from_spki(info)


class TokenSigner:
    """A :class:`~trust.crypto.signer.Signer` whose private key stays on the token: ``sign`` is ``C_Sign``."""

    __slots__ = ("_algorithm", "_find", "_key_id", "_pool", "_public")

    def __init__(
        self, pool: TokenPool, key_id: str, find: Mapping[str, Any], public: PublicKey, algorithm: SignatureAlgorithm
    ) -> None:
        """``find``: what names the private key on the token (``id=CKA_ID`` and/or ``label=CKA_LABEL``)."""
        public.check_algorithm(algorithm)
        self._pool = pool
        self._key_id = key_id
        self._find = dict(find)
        self._public = public
        self._algorithm = algorithm

    @property
    def algorithm(self) -> SignatureAlgorithm:
        return self._algorithm

    @property
    def public_key(self) -> PublicKey:
        return self._public

    @property
    def user_id(self) -> bytes:
        return DEFAULT_USER_ID

    def sign(self, data: bytes, *, encoding: SignatureEncoding = "der") -> bytes:
        alg = self._algorithm
        with self._pool.session(f"signing with {self._key_id}") as session:
            key: Any = session.get_key(object_class=ObjectClass.PRIVATE_KEY, **self._find)
            if alg.family is KeyFamily.EC:
                raw = key.sign(digest(alg.hash, data), mechanism=Mechanism.ECDSA)
            elif alg.padding == "pss":
                assert alg.mgf_hash is not None and alg.salt_length is not None
                raw = key.sign(
                    data,
                    mechanism=_RSA_PSS[alg.hash],
                    mechanism_param=(_PSS_HASH[alg.hash], _MGF[alg.mgf_hash], alg.salt_length),
                )
                return bytes(raw)
            else:
                return bytes(key.sign(data, mechanism=_RSA_PKCS1[alg.hash]))
        assert isinstance(self._public, ECPublicKey)
        order = self._public.order
        half = len(raw) // 2
        r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
        return encode_signature(r, s, encoding, order)

    def __repr__(self) -> str:
        return f"<TokenSigner {self._algorithm.name} {self._key_id}>"


class TokenKeyStore:
    """RSA and EC keys on a PKCS#11 token; SM2 keys (and reading old file keys) in a :class:`FileKeyStore`.

    Implements :class:`~trust.crypto.keystore.KeyStore`; see the module docstring."""

    def __init__(self, config: TokenConfig, files: FileKeyStore | None = None):
        self.config = config
        self.files = files
        self.pool = TokenPool(config)
        self._publics: dict[str, PublicKey] = {}
        self._publics_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenKeyStore(token={self.config.token_label!r}, files={self.files!r})"

    @property
    def location(self) -> str:
        return f"pkcs11 token {self.config.token_label}"

    def _key_id(self, public: PublicKey) -> tuple[str, bytes]:
        ckaid = bytes.fromhex(public.fingerprint()[:16])
        return f"{KEY_ID_PREFIX}{self.config.token_label}/{ckaid.hex()}", ckaid

    def _files(self, what: str) -> FileKeyStore:
        if self.files is None:
            raise KeyStoreError(
                f"{what}: SM2 keys and file keys need the encrypted file store beside the token",
                code=Code.KEYSTORE_KEY_NOT_FOUND,
            )
        return self.files

    # -- KeyStore --------------------------------------------------------------------------------------

    def generate(self, spec: str, *, label: str = "") -> KeyInfo:
        """A new key made on the token (RSA, EC), or in the file store (SM2: no standard PKCS#11 mechanism)."""
        if spec == "sm2":
            return self._files("SM2 key").generate(spec, label=label)
        if spec not in _RSA_BITS and spec not in _CURVES:
            generate_private_key(spec)  # raises the one "unknown key type" InputError
            raise InputError(f"key type {spec!r} cannot be made on a token")
        ckaid = os.urandom(8)  # provisional: the public key decides the final CKA_ID below
        private_template: dict[Attribute, Any] = dict(_PRIVATE_TEMPLATE)
        public_template: dict[Attribute, Any] = dict(_PUBLIC_TEMPLATE)
        capabilities = pkcs11.MechanismFlag.SIGN | pkcs11.MechanismFlag.VERIFY
        with self.pool.session("generating a key on the token") as session:
            if spec in _RSA_BITS:
                public_template[Attribute.PUBLIC_EXPONENT] = (65537).to_bytes(3, "big")
                pub, priv = session.generate_keypair(
                    KeyType.RSA,
                    _RSA_BITS[spec],
                    id=ckaid,
                    label=label[:64] or spec,
                    store=True,
                    capabilities=capabilities,
                    public_template=public_template,
                    private_template=private_template,
                )
            else:
                params = session.create_domain_parameters(
                    KeyType.EC, {Attribute.EC_PARAMS: encode_named_curve_parameters(_CURVES[spec][1])}, local=True
                )
                pub, priv = params.generate_keypair(
                    id=ckaid,
                    label=label[:64] or spec,
                    store=True,
                    capabilities=capabilities,
                    public_template=public_template,
                    private_template=private_template,
                )
            public = _public_from_token(pub)
            key_id, final = self._key_id(public)
            pub[Attribute.ID] = final
            priv[Attribute.ID] = final
        self._remember(key_id, public)
        return KeyInfo(key_id, public.family.value, public, label, datetime.now(UTC).replace(microsecond=0),
                       self.location)  # fmt: skip

    def import_key(self, key: PrivateKey, *, label: str = "") -> KeyInfo:
        """Put a software key on the token as sensitive and non-extractable; SM2 keys go to the file store."""
        public = key.public_key
        if public.family is KeyFamily.SM2:
            return self._files("SM2 key").import_key(key, label=label)
        key_id, ckaid = self._key_id(public)
        # The one place besides trust.crypto.pkcs8 that reads the private key's encoding: to hand it to the token.
        info = key._private_key_info()
        inner = info["private_key"].parsed.dump()
        if public.family is KeyFamily.RSA:
            private_attrs = decode_rsa_private_key(inner)
            public_attrs = {
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.KEY_TYPE: KeyType.RSA,
                Attribute.MODULUS: private_attrs[Attribute.MODULUS],
                Attribute.PUBLIC_EXPONENT: private_attrs[Attribute.PUBLIC_EXPONENT],
            }
        else:
            ec_private = asn1_keys.ECPrivateKey.load(inner)
            params = info["private_key_algorithm"]["parameters"]
            private_attrs = {
                Attribute.KEY_TYPE: KeyType.EC,
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.EC_PARAMS: params.dump(),
                Attribute.VALUE: ec_private["private_key"].contents,
            }
            point = bytes(asn1_keys.PublicKeyInfo.load(public.spki_der())["public_key"].native)
            public_attrs = {
                Attribute.CLASS: ObjectClass.PUBLIC_KEY,
                Attribute.KEY_TYPE: KeyType.EC,
                Attribute.EC_PARAMS: params.dump(),
                Attribute.EC_POINT: asn1_core.OctetString(point).dump(),
            }
        common = {Attribute.ID: ckaid, Attribute.LABEL: label[:64] or public.family.value}
        with self.pool.session("importing a key to the token") as session:
            if self._find(session, ckaid):
                raise KeyStoreError(f"key {key_id} is already on the token", code=Code.KEYSTORE_KEY_EXISTS)
            pub = session.create_object({**public_attrs, **_PUBLIC_TEMPLATE, **common})
            try:
                session.create_object({**private_attrs, **_PRIVATE_TEMPLATE, **common})
            except BaseException:
                pub.destroy()
                raise
        self._remember(key_id, public)
        return KeyInfo(key_id, public.family.value, public, label, datetime.now(UTC).replace(microsecond=0),
                       self.location)  # fmt: skip

    def move_file_key(self, key_id: str) -> KeyInfo:
        """Copy a key of the file store beside the token onto the token (:meth:`import_key`); the file stays until
        the caller discards it (``trust.service.keys.move_to_token``: the rows that name it move first)."""
        files = self._files(f"key {key_id}")
        info = files.info(key_id)
        # The file store's private half, decrypted in this process for the token's C_CreateObject and nowhere else.
        key = files._private(key_id)
        return self.import_key(key, label=info.label or key_id)

    @staticmethod
    def _find(session: pkcs11.Session, ckaid: bytes) -> list[Any]:
        return list(session.get_objects({Attribute.ID: ckaid}))

    def _remember(self, key_id: str, public: PublicKey) -> None:
        with self._publics_lock:
            self._publics[key_id] = public

    def _token_info(self, key_id: str) -> KeyInfo:
        label, ckaid = _parse_key_id(key_id)
        if label != self.config.token_label:
            raise KeyStoreError(
                f"key {key_id} lives on token {label!r}, not on the configured token {self.config.token_label!r}",
                code=Code.KEYSTORE_TOKEN_MISSING,
            )
        with self.pool.session(f"reading {key_id}") as session:
            try:
                pub = session.get_key(object_class=ObjectClass.PUBLIC_KEY, id=ckaid)
                priv = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=ckaid)
            except p11e.NoSuchKey:
                raise KeyStoreError(
                    f"key {key_id} is not on token {label!r} (deleted?)", code=Code.KEYSTORE_TOKEN_KEY_MISSING
                ) from None
            public = _public_from_token(pub)
            # The token keeps no creation time Huren reads back (SoftHSM2 fails on CKA_START_DATE): the epoch stands
            # for "unknown"; the certificate of the key says when it came into use.
            info = KeyInfo(key_id, public.family.value, public, str(priv[Attribute.LABEL]), _UNKNOWN, self.location)
        self._remember(key_id, public)
        return info

    def info(self, key_id: str) -> KeyInfo:
        if key_id.startswith(KEY_ID_PREFIX):
            return self._token_info(key_id)
        return self._files(f"key {key_id}").info(key_id)

    def list(self) -> list[KeyInfo]:
        """The keys on the token (with a public and a private object), then the file store's, each sorted by id."""
        with self.pool.session("listing the token") as session:
            ids = sorted(
                {bytes(obj[Attribute.ID]) for obj in session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})}
            )
        token = [self._token_info(f"{KEY_ID_PREFIX}{self.config.token_label}/{i.hex()}") for i in ids if len(i) == 8]
        return token + (self.files.list() if self.files is not None else [])

    def signer(
        self, key_id: str, algorithm: SignatureAlgorithm | None = None, *, user_id: bytes = DEFAULT_USER_ID
    ) -> Signer:
        if not key_id.startswith(KEY_ID_PREFIX):
            return self._files(f"key {key_id}").signer(key_id, algorithm, user_id=user_id)
        with self._publics_lock:
            public = self._publics.get(key_id)
        if public is None:
            public = self._token_info(key_id).public_key
        _label, ckaid = _parse_key_id(key_id)
        return TokenSigner(self.pool, key_id, {"id": ckaid}, public, algorithm or public.default_algorithm())

    def discard(self, key_id: str) -> None:
        if not key_id.startswith(KEY_ID_PREFIX):
            self._files(f"key {key_id}").discard(key_id)
            return
        _label, ckaid = _parse_key_id(key_id)
        with self.pool.session(f"deleting {key_id}") as session:
            for obj in self._find(session, ckaid):
                obj.destroy()
        with self._publics_lock:
            self._publics.pop(key_id, None)

    def close(self) -> None:
        self.pool.close()


def token_signer(
    config: TokenConfig,
    *,
    label: str | None = None,
    ckaid: bytes | None = None,
    algorithm: SignatureAlgorithm | None = None,
) -> TokenSigner:
    """A signer for one existing key on a token, named by ``CKA_LABEL`` and/or ``CKA_ID`` (an RFC 7512 URI's
    ``object`` and ``id``): what a platform or a holder uses for its own key (``trust client token --key pkcs11:…``).
    The public key is read from the token's public key object of the same name."""
    if label is None and ckaid is None:
        raise InputError("a PKCS#11 key is named by its object label, its id, or both", code=Code.USAGE)
    find: dict[str, Any] = {}
    if label is not None:
        find["label"] = label
    if ckaid is not None:
        find["id"] = ckaid
    name = f"PKCS#11 key {label or ''}{'/' + ckaid.hex() if ckaid else ''} on token {config.token_label}"
    pool = TokenPool(config)
    with pool.session(f"reading {name}") as session:
        try:
            session.get_key(object_class=ObjectClass.PRIVATE_KEY, **find)
            public = _public_from_token(session.get_key(object_class=ObjectClass.PUBLIC_KEY, **find))
        except p11e.NoSuchKey:
            raise KeyStoreError(f"no {name}", code=Code.KEYSTORE_TOKEN_KEY_MISSING) from None
        except p11e.MultipleObjectsReturned:
            raise InputError(f"{name} is ambiguous: give both object and id", code=Code.USAGE) from None
    if public.family is KeyFamily.SM2:  # pragma: no cover - the token would need a vendor SM2 mechanism
        raise InputError("SM2 keys on a token need a vendor mechanism Huren does not configure (docs/HSM.md)")
    return TokenSigner(pool, name, find, public, algorithm or public.default_algorithm())
