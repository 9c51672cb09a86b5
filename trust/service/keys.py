"""Moving a service key from the encrypted file store onto the PKCS#11 token, without downtime (issue 20 item 3).

``trust keys move KEY_ID`` puts an RSA or EC key that lives in the file store (a world built before the token was
configured: TSA, OCSP responder, seal, licence-issuer, CA keys) on the configured token with the token's attributes
(sensitive, not extractable; ``C_CreateObject``, so ``CKA_NEVER_EXTRACTABLE`` is false: the key existed outside the
token before) and, in one transaction, makes every row that names the file key name the token key instead. The key
itself does not change, so nothing it signed before needs anything, and no certificate is re-issued: workers read a
key id from its row at each signature, so they sign on the token from the next operation on, and an operation
already under way finishes with the file key, which stays in the file store until ``--remove-file`` (or
``trust keys move --remove-file`` later) deletes it.

A token that refuses imports (many HSMs do, by policy) fails the move with the token's error and changes nothing;
then the way is a new key made on the token: ``trust ca rekey`` for a CA, a TSA certificate revoked as superseded (the
next ``trust ca refresh`` makes the new TSA key, on the token), a new seal for a seal (``docs/OPERATIONS.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from ca.models import CaKeyHistory, CertificateAuthority, IssuedCertificate
from licenses.models import LicenseIssuer
from seal.models import SealMaker
from trust import db
from trust.crypto.algorithms import KeyFamily
from trust.crypto.errors import Code, ConfigError, ConflictError, InputError
from trust.service import audit
from trust.service.instance import Instance

# Every column that names a key the service signs with; a key named anywhere else is not moved (below).
KEY_COLUMNS: tuple[tuple[Any, Any], ...] = (
    (CertificateAuthority, CertificateAuthority.key_id),
    (CertificateAuthority, CertificateAuthority.ocsp_key_id),
    (CaKeyHistory, CaKeyHistory.key_id),
    (IssuedCertificate, IssuedCertificate.key_id),
    (SealMaker, SealMaker.key_id),
    (LicenseIssuer, LicenseIssuer.key_id),
)


@dataclass(frozen=True)
class Moved:
    old_key_id: str
    new_key_id: str
    rows: int
    file_removed: bool


def move_to_token(instance: Instance, key_id: str, *, remove_file: bool = False) -> Moved:
    """Import file key ``key_id`` to the configured token and re-point every row naming it (one transaction)."""
    from trust.crypto.pkcs11 import KEY_ID_PREFIX, TokenKeyStore

    store = instance.keystore
    if not isinstance(store, TokenKeyStore) or store.files is None:
        raise ConfigError("no PKCS#11 token is configured (TRUST_PKCS11_MODULE, TRUST_PKCS11_TOKEN)")
    if key_id.startswith(KEY_ID_PREFIX):
        raise InputError(f"key {key_id} already lives on a token", code=Code.KEYSTORE_KEY_EXISTS)
    info = store.files.info(key_id)
    if info.family not in (KeyFamily.RSA.value, KeyFamily.EC.value):
        raise InputError(f"key {key_id} is {info.family}: only RSA and EC keys can live on the token (docs/HSM.md)")
    from trust.service.sharing.models import DirectoryKey

    instance.prepare_storage()
    with db.session_scope(instance.engine) as session:
        if session.exec(select(DirectoryKey).where(DirectoryKey.key_id == key_id)).first() is not None:
            raise ConflictError(f"key {key_id} keys the sharing directory's HMAC; it stays where it is")
        moved = store.move_file_key(key_id)
        rows = 0
        try:
            for model, column in KEY_COLUMNS:
                result = session.execute(update(model).where(col(column) == key_id).values({column.key: moved.key_id}))
                rows += int(getattr(result, "rowcount", 0) or 0)
            if rows == 0:
                raise InputError(f"no CA, certificate, seal maker or licence issuer uses key {key_id}; nothing to move")
            # the re-pointing is a bulk UPDATE, which the ORM audit hooks do not see: one explicit entry for the move
            audit.append(
                session,
                [
                    audit.entry(
                        action="key.move",
                        subject=key_id,
                        result="ok",
                        details={"to": moved.key_id, "rows": rows, "file_removed": remove_file},
                    )
                ],
            )
            session.flush()
        except BaseException:
            store.discard(moved.key_id)  # the token copy; the file key was never touched
            raise
    if remove_file:
        store.files.discard(key_id)
    return Moved(key_id, moved.key_id, rows, remove_file)


@dataclass(frozen=True)
class Orphan:
    key_id: str
    family: str
    label: str


def token_orphans(instance: Instance) -> list[Orphan]:
    """Keys Huren made on the configured token that no database row and no pending offline-root ceremony names: left
    by a failed discard (the token was gone when a transaction rolled back) or a ceremony request never imported and
    since removed. Keys whose ``CKA_ID`` is not Huren's (the public key's fingerprint prefix: made by another program,
    a platform's or holder's ``pkcs11:`` key) are never listed."""
    from trust.crypto.pkcs11 import KEY_ID_PREFIX, TokenKeyStore
    from trust.service.backup.databases import key_references

    store = instance.keystore
    if not isinstance(store, TokenKeyStore):
        raise ConfigError("no PKCS#11 token is configured (TRUST_PKCS11_MODULE, TRUST_PKCS11_TOKEN)")
    instance.prepare_storage()
    referenced = key_references(instance.engine)
    pending = instance.settings.home / "ceremony" / "pending"
    waiting = "".join(p.read_text(errors="replace") for p in sorted(pending.glob("*.json"))) if pending.is_dir() else ""
    orphans = []
    for info in store.list():
        if not info.key_id.startswith(KEY_ID_PREFIX) or info.key_id in referenced or info.key_id in waiting:
            continue
        if info.key_id != f"{KEY_ID_PREFIX}{store.config.token_label}/{info.public_key.fingerprint()[:16]}":
            continue  # not made by Huren
        orphans.append(Orphan(info.key_id, info.family, info.label))
    return orphans


def prune_token(instance: Instance, orphans: list[Orphan]) -> None:
    """Delete ``orphans`` (:func:`token_orphans`) from the token, each checked again and audited (``key.prune``)."""
    current = {o.key_id for o in token_orphans(instance)}
    for orphan in orphans:
        if orphan.key_id not in current:
            continue  # referenced meanwhile
        instance.keystore.discard(orphan.key_id)
        audit.record(
            instance.engine,
            action="key.prune",
            subject=orphan.key_id,
            result="ok",
            details={"family": orphan.family, "label": orphan.label},
        )
