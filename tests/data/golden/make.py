"""Make the golden artefacts of Huren's own formats (tests/data/golden/README.md says what each file is).

    .venv/bin/python tests/data/golden/make.py            # rewrite tests/data/golden/ (about a minute)
    .venv/bin/python tests/data/golden/make.py --check    # make them in a temporary folder, compare the manifests'
                                                          # file lists and times (bytes differ: keys are random)

One Huren world is built through the whole service stack (tests.support.world: roots, national CAs, the regions
浙江 330000 and 广东 440000 in SM2 and RSA) at a fixed clock, :data:`MADE_AT`, which moves only when this script moves
it (``time_machine``, frozen between steps). Every certificate, CRL, OCSP response, time-stamp, seal, signature,
sealed PDF, licence token, status list, trust list and bundle therefore carries the same times on every run; keys
and SM2/ECDSA signatures are random, so the bytes are not. The verifier's tests judge everything at
:data:`VALIDATION_TIME` (``manifest.json``), where the good artefacts pass and each deliberately broken variant
fails the way the manifest records.

The keys a test needs to write variants of its own (the seal maker's, a seal's, the licence issuers', the TSA's, a
holder's) are copied from the world's key store as they are there: PKCS#8 encrypted with PBES2 under the world's
test passphrase (:data:`tests.support.world.PASSPHRASE`). They certify nothing outside these files.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

MADE_AT = datetime(2025, 3, 3, 1, 0, 0, tzinfo=UTC)  # 09:00 in Beijing
"""The fixed clock the world is built at; each step below moves it on by whole minutes."""
VALIDATION_TIME = MADE_AT + timedelta(minutes=90)
"""When the tests judge the artefacts: after everything was made and revoked, before anything expires (the status
list tokens live 24 hours, the bundle and the trust list longer, the OCSP responses made at one hour one hour)."""
PORT = 8000  # named in the certificates' CRL and OCSP addresses; nothing is served
DOCUMENT = b"<ofd:Document>...</ofd:Document>"
PROPERTY = "/Doc_0/Signs/Sign_0/Signature.xml"
BUSINESS = "11100000000013338W101"
FOOD = "11100000000013338W102"
BIRTH = "11100000000013338W104"
NONCE = "n-123"
AUDIENCE = "https://bank.example"


class Golden:
    """Writes files under ``root`` and records each in the manifest with its digest and what it is."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}
        self.ids: dict[str, Any] = {}
        self.broken: dict[str, dict[str, Any]] = {}

    def put(self, name: str, data: bytes | str, what: str) -> bytes:
        raw = data.encode() if isinstance(data, str) else data
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(raw)
        self.files[name] = {"sha256": hashlib.sha256(raw).hexdigest(), "bytes": len(raw), "what": what}
        return raw

    def put_json(self, name: str, value: Any, what: str) -> bytes:
        return self.put(name, json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True) + "\n", what)

    def put_broken(self, name: str, data: bytes | str, what: str, expect: dict[str, Any]) -> None:
        """A deliberately broken variant and the verdict the verifier must give it (``indication`` and
        ``sub_indication``, the ``failed`` check names, or ``error`` for an input error's code), with the extra
        inputs its verification needs (``context``: which bundle; ``data``: the signed data file)."""
        self.put(name, data, what)
        self.expect(name, expect)

    def expect(self, name: str, expect: dict[str, Any]) -> None:
        """The verdict for a file already in the set (a good artefact judged with other inputs, or a revoked one)."""
        assert name in self.files, name
        self.broken[name] = expect


def flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


def make(out: Path) -> dict[str, Any]:
    import time_machine

    with time_machine.travel(MADE_AT, tick=False) as clock:
        return _make(out, lambda minutes: clock.shift(timedelta(minutes=minutes)))


def _make(out: Path, step: Callable[[float], None]) -> dict[str, Any]:  # noqa: C901, PLR0912, PLR0915

    from ca import authority
    from licenses import samples as license_samples
    from licenses.models import LicenseIssuer
    from seal.models import SealMaker
    from tests.support import pdfs
    from tests.support.world import PASSPHRASE, ZJ_ORG_USCC, build_world
    from trust import db
    from trust.crypto import jwk
    from trust.crypto.keys import generate_private_key
    from trust.crypto.pkcs8 import encrypt_private_key_pem
    from trust.formats import license_catalogue as catalogue
    from trust.formats import license_token as token
    from trust.formats import ocsp as ocsp_mod
    from trust.formats import sdjwt
    from trust.formats import tsp as tsp_mod
    from trust.formats import x509 as cx
    from trust.formats.names import DN, make_uscc
    from trust.service import ca as ca_service
    from trust.service import license_documents, licenses, seals, trust
    from trust.service import ocsp as ocsp_service
    from trust.service import tsa as tsa_service
    from trust.service.seals import signing

    g = Golden(out)
    times: dict[str, str] = {}
    g.ids["times"] = times

    def mark(name: str) -> datetime:
        moment = datetime.now(UTC)  # the fixed clock
        times[name] = moment.isoformat()
        return moment

    home = Path(tempfile.mkdtemp(prefix="huren-golden-"))
    try:
        world = build_world(home / "world", PORT)
        instance = world.instance
        from trust.crypto.keystore import FileKeyStore

        assert isinstance(instance.keystore, FileKeyStore)
        keystore_dir = instance.keystore.directory

        def copy_key(name: str, key_id: str | None, what: str) -> None:
            assert key_id is not None, name
            g.put(f"keys/{name}.key.pem", (keystore_dir / f"{key_id}.key.pem").read_bytes(), what)

        def cert_record(session: Any, serial: str) -> Any:
            return authority.find_certificate(session, serial)

        # --- the PKI ------------------------------------------------------------------------------------------
        for ca_id in ("root-sm2", "root-rsa", "region-330000-sm2", "region-330000-rsa", "region-440000-sm2"):
            g.put(f"pki/{ca_id}.pem", world.ca_pem(ca_id), f"CA certificate {ca_id} (PEM)")
        pins = trust.root_fingerprints(instance)
        g.ids["pins"] = pins
        step(10)

        # --- issuers and seals ----------------------------------------------------------------------------------
        zj_authority = make_uscc("11330000002482226")
        gd_authority = make_uscc("11440000006954832")
        all_types = [t.code for t in catalogue.all_types()]
        issuers = {
            "zj": licenses.register_issuer(
                instance,
                ca_id="region-330000-sm2",
                name="浙江省市场监督管理局",
                code=zj_authority,
                license_types=all_types,
            ),
            "zj_rsa": licenses.register_issuer(
                instance,
                ca_id="region-330000-rsa",
                name="浙江省市场监督管理局",
                code=zj_authority,
                license_types=all_types,
                family="RSA",
            ),
            "zj_ec": licenses.register_issuer(
                instance,
                ca_id="region-330000-rsa",
                name="浙江省市场监督管理局",
                code=zj_authority,
                license_types=all_types,
                family="EC",
            ),
            "gd": licenses.register_issuer(
                instance,
                ca_id="region-440000-sm2",
                name="广东省市场监督管理局",
                code=gd_authority,
                license_types=[FOOD],
            ),
            "closed": licenses.register_issuer(
                instance,
                ca_id="region-330000-sm2",
                name="杭州市市场监督管理局",
                code=make_uscc("11330100002482226"),
                license_types=[BUSINESS],
            ),
            "compromised": licenses.register_issuer(
                instance,
                ca_id="region-330000-sm2",
                name="宁波市市场监督管理局",
                code=make_uscc("11330200002482227"),
                license_types=[BUSINESS],
            ),
        }
        g.ids["issuers"] = {name: record.id for name, record in issuers.items()}

        def seal(
            name: str,
            *,
            dual: bool,
            ca_id: str = "region-330000-sm2",
            holder: str = "杭州示例科技有限公司",
            code: str = ZJ_ORG_USCC,
        ) -> Any:
            return seals.create(
                instance,
                ca_id=ca_id,
                holder_kind="organization",
                holder_name=holder,
                holder_code=code,
                seal_name=name,
                dual=dual,
            )

        contract = seal("合同专用章", dual=True)
        finance = seal("财务专用章", dual=True)
        doomed = seal("作废专用章", dual=False)
        gd_seal = seal(
            "合同专用章",
            dual=False,
            ca_id="region-440000-sm2",
            holder="广州示例有限公司",
            code=make_uscc("91440101MA5CXXX00"),
        )
        g.ids["seals"] = {
            "contract": contract.es_id,
            "finance": finance.es_id,
            "revoked": doomed.es_id,
            "gd": gd_seal.es_id,
        }
        from seal import registry as seal_registry

        with db.session_scope(instance.engine, read_only=True) as session:
            maker = session.get(SealMaker, "region-330000-sm2")
            gd_maker = session.get(SealMaker, "region-440000-sm2")
            assert maker is not None and gd_maker is not None
            maker_cert = cert_record(session, maker.cert_serial)
            copy_key("maker-330000-sm2", maker.key_id, "the 浙江 SM2 seal maker's key (SEAL_MAKER service)")
            g.put(
                "pki/maker-330000-sm2.pem",
                cx.certificate_pem(cx.load_certificate(maker_cert.der)),
                "the 浙江 SM2 seal maker's certificate",
            )
            gd_maker_cert = cert_record(session, gd_maker.cert_serial)
            g.put(
                "pki/maker-440000-sm2.pem",
                cx.certificate_pem(cx.load_certificate(gd_maker_cert.der)),
                "the 广东 SM2 seal maker's certificate",
            )
            for name, record in (("contract", contract), ("gd", gd_seal)):
                keys = seal_registry.signer_key_ids(session, seal_registry.get_seal(session, record.es_id))
                for family, (key_id, der) in sorted(keys.items()):
                    copy_key(f"seal-{name}-{family.lower()}", key_id, f"the {name} seal's {family} signer key")
                    g.put(
                        f"pki/seal-{name}-{family.lower()}.pem",
                        cx.certificate_pem(cx.load_certificate(der)),
                        f"the {name} seal's {family} signer certificate",
                    )
            copy_key("maker-440000-sm2", gd_maker.key_id, "the 广东 SM2 seal maker's key (revoked later)")
            doomed_keys_ids = seal_registry.signer_key_ids(session, seal_registry.get_seal(session, doomed.es_id))
            copy_key("seal-revoked-sm2", doomed_keys_ids["SM2"][0], "the SM2 signer key of the seal revoked later")
            tsa_record = tsa_service.current_record(session, "SM2")
            assert tsa_record is not None
            copy_key("tsa-sm2", tsa_record.key_id, "the SM2 time-stamping authority's key")
            g.put(
                "pki/tsa-sm2.pem",
                cx.certificate_pem(cx.load_certificate(tsa_record.der)),
                "the SM2 time-stamping authority's certificate",
            )
            for name in ("zj", "gd"):
                issuer = session.get(LicenseIssuer, issuers[name].id)
                assert issuer is not None
                copy_key(f"issuer-{name}", issuer.key_id, f"licence issuer {name}'s SM2 key")
        # RSA and ECDSA seal makers of 浙江 (certified now, registered as SEAL_MAKER services only after the bundle
        # before the revocations: tests see them first unauthorised, then authorised)
        other_makers = {}
        for family in ("RSA", "EC"):
            done = ca_service.issue(
                instance,
                ca_id="region-330000-rsa",
                profile="seal-maker",
                subject=DN(province="浙江省", organization="电子印章制作中心", common_name=f"{family} 制章者"),
                key_family=family,
            )
            other_makers[family] = done.record
            name = f"maker-330000-{family.lower()}"
            copy_key(name, done.record.key_id, f"a 浙江 {family} seal maker's key (a SEAL_MAKER service after +40)")
            g.put(
                f"pki/{name}.pem",
                cx.certificate_pem(cx.load_certificate(done.record.der)),
                f"a 浙江 {family} seal maker's certificate (a SEAL_MAKER service after +40)",
            )
        # 广东 seal certificates (the CA's "seal" profile, SM2 and RSA), one RSA one revoked later; and for the
        # revocation-scope tests, per family an organisation certificate of 浙江 revoked later and a good one, the
        # region's own OCSP-signing certificate (issued through the CA layer: the service refuses the ocsp profile to
        # regions) and the region CA's key (a region that enrolled from a CSR holds it)
        gd_subject = DN(
            province="广东省",
            organization="广州示例有限公司",
            common_name="公章",
            serial_number=make_uscc("91440101MA5CXXX00"),
        )
        for name, family in (("gd-seal-sm2", "SM2"), ("gd-seal-rsa", "RSA"), ("gd-seal-rsa-revoked", "RSA")):
            done = ca_service.issue(
                instance, ca_id=f"region-440000-{family.lower()}", profile="seal", subject=gd_subject, key_family=family
            )
            g.put(
                f"pki/{name}.pem",
                cx.certificate_pem(done.certificate),
                f"a 广东 seal certificate ({family}){', revoked at +40 (key compromise)' if 'revoked' in name else ''}",
            )
            if "revoked" in name:
                gd_victim = done.record
        g.put("pki/region-440000-rsa.pem", world.ca_pem("region-440000-rsa"), "CA certificate region-440000-rsa (PEM)")
        from ca.profiles import profile as get_profile

        scope_victims = {}
        org = DN(
            province="浙江省",
            organization="被吊销公司",
            common_name="被吊销公司",
            serial_number=make_uscc("91330106MA2CFA4Y0"),
        )
        for family in ("SM2", "RSA"):
            ca_id = f"region-330000-{family.lower()}"
            fam = family.lower()
            for role in ("victim", "good"):
                done = ca_service.issue(
                    instance, ca_id=ca_id, profile="organization-identity", subject=org, key_family=family
                )
                g.put(
                    f"scope/{role}-{fam}.pem",
                    cx.certificate_pem(done.certificate),
                    f"an organisation certificate of {ca_id}"
                    + (" revoked at +40 (key compromise)" if role == "victim" else " (good)"),
                )
                if role == "victim":
                    scope_victims[family] = done.record
            with ca_service.transaction(instance) as (session, issued):
                rogue = authority.issue(
                    session,
                    instance.keystore,
                    ca_service.endpoints(instance),
                    ca_id=ca_id,
                    profile=get_profile("ocsp"),
                    subject=DN(province="浙江省", organization="浙江省政务服务平台", common_name="浙江省自建OCSP"),
                    key_family=family,
                )
                issued.append(rogue)
                ca_key_id = authority.get_ca(session, ca_id).key_id
            assert rogue.record.key_id is not None and ca_key_id is not None
            g.put(
                f"scope/rogue-responder-{fam}.pem",
                cx.certificate_pem(rogue.certificate),
                f"{ca_id}'s own OCSP-signing certificate, not a responder the trust list designates",
            )
            copy_key(f"rogue-responder-{fam}", rogue.record.key_id, f"the key of scope/rogue-responder-{fam}.pem")
            copy_key(f"region-330000-{fam}", ca_key_id, f"the CA key of {ca_id} (what a region may hold)")
        mark("issuers_and_seals")
        step(10)

        # --- time-stamp, SES seal and signatures ------------------------------------------------------------------
        from trust.crypto.sm3 import sm3

        request = tsp_mod.build_request(hash_algorithm="sm3", message_digest=sm3(DOCUMENT), nonce=7)
        response = tsa_service.timestamp(instance, request, "SM2")
        g.put("tsp/request-sm2.tsq", request, "an RFC 3161 request: SM3 of ses/document.xml, nonce 7")
        g.put("tsp/response-sm2.tsr", response, "the SM2 TSA's response to tsp/request-sm2.tsq")
        from asn1crypto import tsp as asn1_tsp

        tst = asn1_tsp.TimeStampResp.load(response)["time_stamp_token"].dump()
        g.put("tsp/token-sm2.tst", tst, "the time-stamp token of tsp/response-sm2.tsr")
        g.put("ses/document.xml", DOCUMENT, "the data the SES signatures sign")
        g.put("ses/seal-v4.esl", contract.seal_der, "Huren's GB/T 38540 version-4 seal (dual: SM2 and RSA signers)")
        g.put("ses/seal-v4-gd.esl", gd_seal.seal_der, "a 广东 version-4 seal (SM2 signer)")
        stamped = signing.sign_hash(instance, es_id=contract.es_id, data=DOCUMENT, property_info=PROPERTY)
        plain = signing.sign_hash(
            instance, es_id=contract.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False
        )
        g.put("ses/signature-v4.der", stamped, "SES_Signature v4 over ses/document.xml, time-stamped")
        g.put("ses/signature-v4-unstamped.der", plain, "SES_Signature v4 over ses/document.xml, no time-stamp")
        doomed_signature = signing.sign_hash(instance, es_id=doomed.es_id, data=DOCUMENT, property_info=PROPERTY)
        g.put(
            "ses/signature-v4-revoked-later.der",
            doomed_signature,
            "SES_Signature v4 by the seal revoked later, time-stamped before the revocation",
        )
        gd_stamped = signing.sign_hash(instance, es_id=gd_seal.es_id, data=DOCUMENT, property_info=PROPERTY)
        gd_plain = signing.sign_hash(
            instance, es_id=gd_seal.es_id, data=DOCUMENT, property_info=PROPERTY, timestamp=False
        )
        g.put(
            "ses/signature-v4-gd.der",
            gd_stamped,
            "SES_Signature v4 by the 广东 seal (its maker revoked later), stamped",
        )
        g.put("ses/signature-v4-gd-unstamped.der", gd_plain, "the same without a time-stamp")
        mark("artefacts")
        g.put("ses/seal-v4-revoked-later.esl", doomed.seal_der, "the seal whose signer certificate is revoked later")

        # --- sealed PDFs ----------------------------------------------------------------------------------------
        base = pdfs.base_pdf(2)
        g.put("pdf/base.pdf", base, "a two-page unsigned PDF with Chinese text (the document the PDFs seal)")
        for family in ("SM2", "RSA", "dual"):
            for level in pdfs.LEVELS:
                sealed = pdfs.seal_pdf(instance, base, contract.es_id, family=family, level=level)
                g.put(f"pdf/sealed-{family}-{level}.pdf", sealed, f"pdf/base.pdf sealed {family} at PAdES {level}")
        several = pdfs.seal_pdf(instance, base, contract.es_id, family="SM2", level="B-T")
        several = pdfs.seal_pdf(instance, several, finance.es_id, family="RSA", level="B-LT", page=2)
        several = pdfs.seal_pdf(instance, several, contract.es_id, family="dual", level="B-LTA")
        g.put("pdf/several-seals.pdf", several, "four seals by two seals (SM2 B-T, RSA B-LT on page 2, dual B-LTA)")
        # the PDF attack tests start from one-page documents
        one_page = pdfs.base_pdf(1)
        g.put("pdf/base-1page.pdf", one_page, "a one-page unsigned PDF with Chinese text")
        g.put(
            "pdf/debt-1page.pdf",
            pdfs.base_pdf(1, lines=["我方欠款人民币壹佰万元整。"]),
            "a one-page unsigned PDF saying 我方欠款人民币壹佰万元整 (what a forger wants signed)",
        )
        for level in ("B-B", "B-T"):
            g.put(
                f"pdf/sealed-1page-SM2-{level}.pdf",
                pdfs.seal_pdf(instance, one_page, contract.es_id, level=level),
                f"pdf/base-1page.pdf sealed SM2 at {level}, visible seal on page 1",
            )
        g.put(
            "pdf/prepared-sealed-B-T.pdf",
            pdfs.seal_pdf(instance, pdfs.prepared_pdf(), contract.es_id, level="B-T"),
            "the shadow-attack document (tests.support.pdf_tools.prepared_pdf) sealed by the product, B-T",
        )
        contract_keys = pdfs.seal_keys(instance, contract.es_id)
        g.put(
            "pdf/signed-adbe-1page-B-B.pdf",
            pdfs.sign_with_pyhanko(instance, one_page, contract_keys, level="B-B", subfilter="adbe"),
            "pdf/base-1page.pdf signed by pyHanko with the contract seal's SM2 key, /adbe.pkcs7.detached, B-B",
        )
        certified = pdfs.sign_with_pyhanko(instance, pdfs.prepared_pdf(), contract_keys, level="B-T", certify=True)
        g.put(
            "pdf/certified-prepared.pdf",
            certified,
            "the shadow-attack document (tests.support.pdfs.prepared_pdf) certified by pyHanko (DocMDP P=2), B-T",
        )
        doomed_keys = pdfs.seal_keys(instance, doomed.es_id)
        for level in ("B-B", "B-T"):
            g.put(
                f"pdf/revoked-before-{level}.pdf",
                pdfs.seal_pdf(instance, base, doomed.es_id, level=level),
                f"sealed {level} by the seal revoked later, before its revocation",
            )

        # --- licences -------------------------------------------------------------------------------------------
        def issue(issuer: str, type_code: str = BUSINESS, **kwargs: Any) -> Any:
            fields = {**license_samples.sample(type_code), **kwargs.pop("fields", {})}
            holder = license_samples.NEWBORN_ID if type_code == BIRTH else None
            return licenses.issue(
                instance, issuer_id=issuers[issuer].id, type_code=type_code, fields=fields, holder_code=holder, **kwargs
            )

        matrix: dict[str, dict[str, dict[str, str]]] = {}
        for issuer_name in ("zj", "zj_rsa", "zj_ec"):
            for type_code in all_types:
                made = issue(issuer_name, type_code)
                matrix.setdefault(issuer_name, {})[type_code] = {
                    "identifier": made.record.identifier,
                    "token": made.record.token,
                    "sd_jwt": made.record.sd_jwt,
                    "qr": token.to_qr(made.qr_token),
                }
        g.put_json(
            "license/matrix.json",
            matrix,
            "every licence type by each 浙江 issuer (SM2, RS256, ES256): compact token, SD-JWT VC, QR payload",
        )
        g.put_json(
            "license/fields-business.json",
            license_samples.sample(BUSINESS),
            "the fields of the sample 营业执照 (licenses.samples), for tests that sign claims of their own",
        )
        x5c = {name: issue(name, token_form="x5c") for name in ("zj", "zj_rsa", "zj_ec")}
        for name, made in x5c.items():
            g.put(f"license/token-{name}-x5c.jwt", made.record.token, f"a 营业执照 token by {name} carrying x5c")
        food = issue("gd", FOOD)
        g.put("license/token-gd-food.jwt", food.record.token, "a 广东 食品经营许可证 token (SM2)")
        g.put(
            "license/qr-gd-food.txt",
            token.to_qr(food.qr_token),
            "the QR payload of license/token-gd-food.jwt's licence",
        )
        plain_license = issue("zj")
        g.put(
            "license/token-zj.jwt", plain_license.record.token, "a 营业执照 token by zj (SM2, compact: kid, x5t#S256)"
        )
        g.put(
            "license/sd-jwt-zj.txt",
            plain_license.record.sd_jwt,
            "the SD-JWT VC of license/token-zj.jwt's licence (no holder key, no key binding)",
        )
        g.put(
            "license/qr-zj.txt", token.to_qr(plain_license.qr_token), "the QR payload of license/token-zj.jwt's licence"
        )
        holder = generate_private_key("ec-p256")
        g.put(
            "keys/holder-p256.key.pem",
            encrypt_private_key_pem(holder, PASSPHRASE, iterations=2_000),
            "the holder key (P-256) bound to license/sd-jwt-bound.txt",
        )
        bound = issue("zj", holder_jwk=jwk.public_jwk(holder.public_key))
        g.put("license/sd-jwt-bound.txt", bound.record.sd_jwt, "an SD-JWT VC bound to keys/holder-p256 (cnf.jwk)")
        revoked_license = issue("zj")
        suspended_license = issue("zj")
        reinstated_license = issue("zj")
        for name, made in (
            ("revoked", revoked_license),
            ("suspended", suspended_license),
            ("reinstated", reinstated_license),
        ):
            g.put_json(
                f"license/{name}.json",
                {
                    "token": made.record.token,
                    "sd_jwt": made.record.sd_jwt,
                    "qr": token.to_qr(made.qr_token),
                    "identifier": made.record.identifier,
                },
                f"a 营业执照 {name} after issue (token, SD-JWT, QR)",
            )
        issuer_revoked = {}
        for name in ("closed", "compromised"):
            made = issue(name, token_form="x5c")
            issuer_revoked[name] = made
            g.put_json(
                f"license/issuer-{name}.json",
                {"token": made.record.token, "sd_jwt": made.record.sd_jwt, "qr": token.to_qr(made.qr_token)},
                f"a licence whose issuer certificate is revoked later ({name})",
            )
        g.put_json("license/jwks.json", licenses.jwks(instance), "the standard JWK Set of the licence issuers")
        g.put_json("license/jwks-sm2.json", licenses.jwks(instance, "sm2"), "the SM2 JWK Set of the licence issuers")
        # licence PDFs
        pdf_license = issue("zj")
        other_license = issue("zj", fields={"name": "杭州另一科技有限公司"})
        food_pdf_license = issue("zj", FOOD)
        rsa_license = issue("zj_rsa")
        from licenses import document
        from trust.formats import license_face
        from trust.service.seals import sealing

        zj_name = "浙江省市场监督管理局"

        def unsealed(made: Any) -> bytes:
            return document.render_token(made.record.token, qr_payload=token.to_qr(made.qr_token), issuer_name=zj_name)

        g.put(
            "license/license.pdf",
            license_documents.issue_pdf(instance, pdf_license.record.identifier),
            "the sealed licence PDF of a 营业执照 (SM2 token, SM2 seal, B-LT)",
        )
        g.put(
            "license/license-food.pdf",
            license_documents.issue_pdf(instance, food_pdf_license.record.identifier),
            "the sealed licence PDF of a 食品经营许可证 revoked later",
        )
        for family in ("RSA", "SM2"):
            g.put(
                f"license/license-rs256-{family}.pdf",
                license_documents.issue_pdf(instance, rsa_license.record.identifier, family=family),
                f"the licence PDF of an RS256 token, sealed {family}",
            )
        g.put("license/face-unsealed.pdf", unsealed(pdf_license), "the face of license/license.pdf, not sealed")
        g.put("license/face-other-unsealed.pdf", unsealed(other_license), "another licence's face, not sealed")
        g.put_json(
            "license/license-pdf.json",
            {
                "identifier": pdf_license.record.identifier,
                "token": pdf_license.record.token,
                "other_identifier": other_license.record.identifier,
                "other_token": other_license.record.token,
                "food_identifier": food_pdf_license.record.identifier,
            },
            "what license/license.pdf and its variants carry",
        )
        authority_seal = license_documents.ensure_authority_seal(instance, issuers["zj"].id)
        g.ids["seals"]["zj_authority"] = authority_seal

        def seal_face(pdf: bytes, es_id: str) -> bytes:
            return sealing.seal_document(
                instance, pdf, es_id=es_id, level="B-LT", anchor=license_face.authority_anchor(zj_name)
            )

        from tests.support import license_pdfs

        g.put(
            "license/mixed-token.pdf",
            seal_face(
                license_pdfs.replace_attachment(unsealed(pdf_license), other_license.record.token), authority_seal
            ),
            "the authority seals a face whose attachment is another licence's token",
        )
        g.put(
            "license/sealed-by-company.pdf",
            seal_face(unsealed(pdf_license), contract.es_id),
            "a licence face sealed by a company's seal, not the authority's",
        )
        step(10)

        # --- the bundle before the revocations -------------------------------------------------------------------
        mark("bundle_before")
        g.put(
            "trust/bundle-before.json",
            trust.export_bundle(instance, home / "b0.json").read_bytes(),
            "the signed offline bundle before the revocations below",
        )
        step(10)

        # --- revocations ----------------------------------------------------------------------------------------
        mark("revocations")
        seals.set_status(instance, doomed.es_id, "revoked", "key compromise")
        ca_service.revoke(instance, serial=gd_maker_cert.serial, reason="key_compromise")
        ca_service.revoke(instance, serial=gd_victim.serial, reason="key_compromise")
        for record in scope_victims.values():
            ca_service.revoke(instance, serial=record.serial, reason="key_compromise")
        with db.session_scope(instance.engine) as session:
            rsa_ca = authority.get_ca(session, "region-330000-rsa")
            for family, record in other_makers.items():
                trust.register_service(
                    session,
                    issuer_ca=rsa_ca,
                    service_id=f"region-330000-{family.lower()}-maker",
                    service_type="SEAL_MAKER",
                    cert_der=record.der,
                )
            trust.publish(session, instance)
        licenses.set_status(instance, revoked_license.record.identifier, "revoked", "测试")
        licenses.set_status(instance, suspended_license.record.identifier, "suspended", "测试")
        licenses.set_status(instance, reinstated_license.record.identifier, "suspended", "测试")
        licenses.set_status(instance, food_pdf_license.record.identifier, "revoked", "test")
        for name, reason in (("closed", "cessation_of_operation"), ("compromised", "key_compromise")):
            x5c_cert = token.parse_unverified(issuer_revoked[name].record.token)[0]["x5c"][0]
            serial = format(cx.load_certificate(base64.b64decode(x5c_cert)).serial_number, "x")
            ca_service.revoke(instance, serial=serial, reason=reason)
        step(5)
        licenses.set_status(instance, reinstated_license.record.identifier, "valid", "恢复")
        step(5)
        for level in ("B-B", "B-T"):
            g.put(
                f"pdf/revoked-after-{level}.pdf",
                pdfs.sign_with_pyhanko(instance, base, doomed_keys, level=level),
                f"signed {level} with the revoked seal's key after its revocation (pyHanko)",
            )
        step(10)

        # --- what a verifier holds ------------------------------------------------------------------------------
        mark("bundle")
        bundle = trust.export_bundle(instance, home / "b1.json").read_bytes()
        g.put("trust/bundle.json", bundle, "the signed offline bundle after everything (the one tests use)")
        g.put("trust/trustlist.json", trust.latest_trust_list(instance).document, "the signed trust list in it")
        for ca_id in ("region-330000-sm2", "region-330000-rsa", "root-sm2"):
            g.put(f"crl/{ca_id}.crl", ca_service.current_crl_der(instance, ca_id), f"the current CRL of {ca_id}")
        status_tokens = licenses.all_status_list_tokens(instance)
        g.put_json("license/status-lists.json", status_tokens, "every status list token (uri and token)")
        with db.session_scope(instance.engine, read_only=True) as session:
            from seal import registry as seal_registry

            region = cx.load_certificate(service_der := ca_service.ca_certificate_der(instance, "region-330000-sm2"))
            assert service_der
            for name, record in (("good", contract), ("revoked", doomed)):
                der = seal_registry.signer_key_ids(session, seal_registry.get_seal(session, record.es_id))["SM2"][1]
                cert = cx.load_certificate(der)
                request = ocsp_mod.build_request([ocsp_mod.CertId.for_certificate(region, cert.serial_number)])
                g.put(
                    f"ocsp/seal-{name}.ocsp",
                    ocsp_service.respond(instance, request),
                    f"the OCSP response for the {'revoked' if name == 'revoked' else 'contract'} seal's SM2 "
                    "certificate",
                )
                if name == "revoked":
                    g.put("pki/seal-revoked-sm2.pem", cx.certificate_pem(cert), "the revoked seal's SM2 certificate")
        for family in ("SM2", "RSA"):
            fam = family.lower()
            issuer = cx.load_certificate(ca_service.ca_certificate_der(instance, f"region-330000-{fam}"))
            for role in ("victim", "good"):
                cert = cx.load_certificate((out / f"scope/{role}-{fam}.pem").read_bytes())
                request = ocsp_mod.build_request(
                    [ocsp_mod.CertId.for_certificate(issuer, cert.serial_number, "sha256")]
                )
                g.put(
                    f"scope/genuine-{role}-{fam}.ocsp",
                    ocsp_service.respond(instance, request),
                    f"Huren's designated responder about scope/{role}-{fam}.pem (valid one hour from +60)",
                )

        # the holder presents at the end (a KB-JWT is judged within minutes, against the final bundle)
        presented = sdjwt.present(
            bound.record.sd_jwt,
            [("license", "fields", "name"), ("license", "fields", "uscc")],
            holder_signer=holder.signer(),
            nonce=NONCE,
            audience=AUDIENCE,
        )
        presented_at = datetime.now(UTC)  # the fixed clock: a KB-JWT is judged within minutes of this
        g.put(
            "license/sd-jwt-bound-presented.txt",
            presented,
            f"a presentation of license/sd-jwt-bound.txt disclosing name and uscc with a KB-JWT (nonce {NONCE}, "
            f"audience {AUDIENCE})",
        )
        # --- deliberately broken variants -------------------------------------------------------------------------
        seal_der = contract.seal_der
        g.put_broken(
            "broken/seal-maker-signature-flipped.esl",
            flip(seal_der, len(seal_der) - 5),
            "ses/seal-v4.esl with a bit flipped in the maker's signature",
            {"indication": "TOTAL_FAILED", "sub_indication": "SIG_CRYPTO_FAILURE", "failed": ["maker-signature"]},
        )
        position = stamped.find(sm3(DOCUMENT)) + 4
        g.put_broken(
            "broken/signature-data-hash-flipped.der",
            flip(stamped, position),
            "ses/signature-v4.der with a bit flipped in dataHash",
            {"indication": "TOTAL_FAILED", "sub_indication": "SIG_CRYPTO_FAILURE", "data": "ses/document.xml"},
        )
        g.put("broken/other-document.xml", DOCUMENT + b"!", "ses/document.xml with one more byte")
        g.expect(
            "ses/signature-v4.der",
            {"indication": "TOTAL_FAILED", "sub_indication": "HASH_FAILURE", "data": "broken/other-document.xml"},
        )
        sealed_t = (out / "pdf/sealed-SM2-B-T.pdf").read_bytes()
        signed_at = pdfs.byte_ranges(sealed_t)[0]
        inside = signed_at[0] + signed_at[1] // 2
        g.put_broken(
            "broken/sealed-SM2-B-T-byte-changed.pdf",
            flip(sealed_t, inside),
            "pdf/sealed-SM2-B-T.pdf with one byte inside the signed range changed",
            {"indication": "TOTAL_FAILED", "sub_indication": "HASH_FAILURE"},
        )
        header, payload, signature = plain_license.record.token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["license"]["fields"]["name"] = "伪造科技有限公司"
        tampered = base64.urlsafe_b64encode(token.encode_claims(claims)).rstrip(b"=").decode()
        g.put_broken(
            "broken/token-payload-changed.jwt",
            f"{header}.{tampered}.{signature}",
            "license/token-zj.jwt with the holder's name changed (signature kept)",
            {"indication": "TOTAL_FAILED", "sub_indication": "SIG_CRYPTO_FAILURE"},
        )
        parts = plain_license.record.sd_jwt.split("~")
        g.put_broken(
            "broken/sd-jwt-disclosure-duplicated.txt",
            "~".join([parts[0], parts[1], parts[1], *parts[2:]]),
            "license/sd-jwt-zj.txt with one disclosure given twice",
            {"indication": "TOTAL_FAILED"},
        )
        g.put("broken/token-revoked.jwt", revoked_license.record.token, "a token whose licence was revoked")
        g.expect("broken/token-revoked.jwt", {"indication": "TOTAL_FAILED", "sub_indication": "REVOKED"})
        g.expect("pdf/revoked-after-B-T.pdf", {"indication": "TOTAL_FAILED", "sub_indication": "REVOKED"})
        g.expect("pdf/revoked-after-B-B.pdf", {"indication": "TOTAL_FAILED", "sub_indication": "REVOKED"})
        g.expect("pdf/revoked-before-B-B.pdf", {"indication": "INDETERMINATE", "sub_indication": "REVOKED_NO_POE"})
        g.expect("license/license-food.pdf", {"indication": "TOTAL_FAILED", "sub_indication": "REVOKED"})
        g.expect(
            "license/sealed-by-company.pdf",
            {"indication": "TOTAL_FAILED", "sub_indication": "SIG_CONSTRAINTS_FAILURE", "failed": ["sealed-by-issuer"]},
        )
        g.expect(
            "license/mixed-token.pdf",
            {"indication": "TOTAL_FAILED", "sub_indication": "SIG_CONSTRAINTS_FAILURE", "failed": ["face"]},
        )
        g.expect(
            "ses/seal-v4-gd.esl",
            {"indication": "INDETERMINATE", "sub_indication": "REVOKED_NO_POE", "failed": ["maker-certificate"]},
        )
        g.expect("pdf/base.pdf", {"indication": "TOTAL_FAILED", "sub_indication": "FORMAT_FAILURE"})
        g.expect(
            "ses/signature-v4-unstamped.der", {"indication": "INDETERMINATE", "sub_indication": "SIGNED_DATA_NOT_FOUND"}
        )
        outer = json.loads(bundle)
        content = json.loads(base64.urlsafe_b64decode(outer["payload"] + "=" * (-len(outer["payload"]) % 4)))
        content["next_update"] = "2099-12-31T00:00:00+00:00"  # a bundle that never goes stale, say
        outer["payload"] = (
            base64.urlsafe_b64encode(json.dumps(content, ensure_ascii=False).encode()).rstrip(b"=").decode()
        )
        g.put_broken(
            "broken/bundle-payload-changed.json",
            json.dumps(outer, ensure_ascii=False),
            "trust/bundle.json with its next update moved after signing (signatures kept)",
            {"error": "INVALID_SIGNATURE"},
        )
        g.put_broken(
            "broken/garbage.der",
            b"\x30\x05garbage",
            "five octets that claim to be DER",
            {"error": "MALFORMED_ENCODING"},
        )

        return {
            "made_at": MADE_AT.isoformat(),
            "validation_time": VALIDATION_TIME.isoformat(),
            "pins": pins,
            "passphrase_of_keys": PASSPHRASE.decode(),
            "document_property": PROPERTY,
            "key_binding": {"nonce": NONCE, "audience": AUDIENCE, "presented_at": presented_at.isoformat()},
            "ids": g.ids,
            "broken": g.broken,
            "files": g.files,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


README = """# Golden artefacts

Huren's own formats, made once through the whole service stack and committed, so that the format and verifier tests
run without the service: no database, no world, no service import (tests/support/golden.py reads them; the
import-linter contract "Tests on golden artefacts stand alone" in pyproject.toml lists the test modules held to
that). End-to-end tests of the service keep building their own worlds.

## Regenerating

    .venv/bin/python tests/data/golden/make.py           # rewrites this folder, README.md and manifest.json included
    .venv/bin/python tests/data/golden/make.py --check   # makes a fresh set elsewhere; exit 1 if files or times differ

Run it after a change to what Huren issues (a certificate profile, the seal format, the token claims, …) and commit
the folder with the change; the tests on these files then show what the change did to verification. It takes about
half a minute. CI runs `make.py --check`, so the generator keeps working while the tests run on its output.

## The clock

The world is built at a fixed clock, **{made_at}**, frozen with `time_machine` and moved on by the script in whole
minutes: issuers and seals at +10, artefacts at +20, the bundle before the revocations at +30, the revocations and
two more seal makers registered at +40, a reinstatement at +45, signatures after them at +50, the final bundle, CRLs
and OCSP responses at +60 (`manifest.json`: `ids.times`). So every time inside the files is the same on every run;
the keys, and so the SM2 and ECDSA signatures, are random, so the bytes are not.

Tests judge everything at the recorded **validation time, {validation_time}** (`manifest.json`:
`validation_time`), when every good artefact passes: the final bundle and the status list tokens are current and
the OCSP responses (one hour) too. A key-bound presentation is judged at `key_binding.presented_at` (a KB-JWT is
fresh for minutes).

## What is here

- `manifest.json`: the clock, the pinned root fingerprints (`pins`), the ids of the issuers and seals, the passphrase
  of the test keys, the SHA-256 and size of every file, and under `broken` the verdict the verifier must give each
  deliberately broken (or revoked) artefact: indication, sub-indication, failed checks, or the error code.
- `keys/`: the few test keys a test needs to write variants of its own (a seal maker's, seals', licence issuers',
  the TSA's, a holder's), PKCS#8 encrypted with PBES2 under the test passphrase, as the key store keeps them. They
  certify nothing outside this folder.

"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="make into a temporary folder and compare the manifests")
    args = parser.parse_args()
    target = Path(tempfile.mkdtemp(prefix="golden-")) if args.check else HERE
    if not args.check:
        for sub in ("pki", "crl", "ocsp", "tsp", "ses", "pdf", "license", "trust", "keys", "broken"):
            shutil.rmtree(HERE / sub, ignore_errors=True)
    manifest = make(target)
    if args.check:
        current = json.loads((HERE / "manifest.json").read_text())
        same = sorted(manifest["files"]) == sorted(current["files"]) and all(
            manifest[k] == current[k] for k in ("made_at", "validation_time", "broken")
        )
        shutil.rmtree(target, ignore_errors=True)
        print("golden: the same files and times" if same else "golden: the committed set differs: run make.py")
        sys.exit(0 if same else 1)
    (HERE / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1, sort_keys=True) + "\n")
    rows = [f"| `{name}` | {entry['what']} |" for name, entry in sorted(manifest["files"].items())]
    readme = README.format(made_at=manifest["made_at"], validation_time=manifest["validation_time"])
    (HERE / "README.md").write_text(readme + "\n".join(["| file | what it is |", "| --- | --- |", *rows]) + "\n")
    total = sum(f["bytes"] for f in manifest["files"].values())
    print(f"golden: {len(manifest['files'])} files, {total / 1024:.0f} KiB, judged at {manifest['validation_time']}")


if __name__ == "__main__":
    main()
