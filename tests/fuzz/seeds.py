"""The fuzzing world: a fresh Huren world and one or more valid seeds of every input the fuzz targets read.

Every seed is an artefact Huren itself made (``tests.support.world``; about 20 s to build): certificates of several
profiles and both families, a CRL that revokes one of them, OCSP requests and the responder's answers, time-stamp
requests and responses, CMS SignedData, GB/T 38540 seals and SES signatures, sealed PDFs (B-T, B-LT, B-LTA, dual) and
a sealed licence PDF, licence tokens (SM2, RSA, ECDSA), SD-JWTs and key-bound presentations, HR1 QR payloads, the
signed trust list and offline bundle, status list tokens, CSRs, client assertions and the JSON and form bodies of
the HTTP routes. The verifier sees only the signed bundle and the pinned root fingerprints (as ``trust verify``
does).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asn1crypto import x509

from tests.fuzz.mutate import der_children

BUSINESS = "11100000000013338W101"


@dataclass
class FuzzWorld:
    instance: Any
    home: Path
    world: Any
    bundle: bytes
    pins: list[str]
    seeds: dict[str, list[bytes]] = field(default_factory=dict)
    issuer_certs: list[x509.Certificate] = field(default_factory=list)
    """CA certificates that issued the seeds (CRL and OCSP responses are verified against them)."""
    document: bytes = b""
    """The document the SES_Signature seeds sign (``--data``)."""
    extras: dict[str, Any] = field(default_factory=dict)
    """Other material the targets need: ``revoked`` (a certificate the bundle's CRL revokes), ``pdf-signed-bytes``
    (what the detached CMS seed signs), ``status-lists`` (``[(uri, issuer key)]``)."""
    signed_cache: dict[str, set[Any]] = field(default_factory=dict)
    built: datetime = field(default_factory=lambda: datetime.now(UTC))
    at: datetime | None = None
    """Validation time (``None``: now); a world restored from a snapshot verifies at the snapshot's time."""
    _ctx: Any = None
    _client: Any = None

    def snapshot(self, target: str) -> dict[str, Any]:
        """What a regression case of ``target`` needs to be replayed against another world: the bundle, the pins,
        the time, the extra material and the target's seeds (the oracle compares with them)."""

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        return {
            "at": (self.at or self.built).isoformat(),
            "bundle": b64(zlib.compress(self.bundle, 9)),
            "pins": self.pins,
            "issuer_certs": [b64(c.dump()) for c in self.issuer_certs],
            "document": b64(self.document),
            "extras": {
                "revoked": b64(self.extras["revoked"]),
                "pdf-signed-bytes": b64(self.extras["pdf-signed-bytes"]),
                "status-lists": [[uri, b64(der)] for uri, der in self.extras["status-lists"]],
            },
            "seeds": {target: [b64(zlib.compress(seed, 9)) for seed in self.seeds.get(target, [])]},
        }

    def restored(self, snapshot: dict[str, Any]) -> FuzzWorld:
        """This world with the material of ``snapshot`` (the service — instance, HTTP app — stays this world's)."""

        def raw(text: str) -> bytes:
            return base64.b64decode(text)

        extras = snapshot["extras"]
        return FuzzWorld(
            instance=self.instance,
            home=self.home,
            world=self.world,
            bundle=zlib.decompress(raw(snapshot["bundle"])),
            pins=list(snapshot["pins"]),
            seeds={**self.seeds, **{k: [zlib.decompress(raw(v)) for v in vs] for k, vs in snapshot["seeds"].items()}},
            issuer_certs=[x509.Certificate.load(raw(c)) for c in snapshot["issuer_certs"]],
            document=raw(snapshot["document"]),
            extras={
                "revoked": raw(extras["revoked"]),
                "pdf-signed-bytes": raw(extras["pdf-signed-bytes"]),
                "status-lists": [(uri, raw(der)) for uri, der in extras["status-lists"]],
            },
            at=datetime.fromisoformat(snapshot["at"]),
            built=datetime.fromisoformat(snapshot["at"]),
            _client=self._client,
        )

    def context(self) -> Any:
        """The verification context of ``trust verify --bundle --pin`` (built once; it is immutable)."""
        if self._ctx is None:
            from verifier import context

            self._ctx = context.build(bundle=self.bundle, pins=self.pins, environ={}, at=self.at)
        return self._ctx

    def http_client(self) -> Any:
        """A test client of the HTTP app (rate limits off: thousands of requests come from one client)."""
        if self._client is None:
            from fastapi.testclient import TestClient

            from trust.http.app import create_app

            self.instance.settings = self.instance.settings.model_copy(
                update={"rate_limit": 0, "anonymous_rate_limit": 0}
            )
            self._client = TestClient(create_app(self.instance), raise_server_exceptions=True)
        return self._client


def _license_issuer(instance: Any, ca_id: str, family: str) -> str:
    from trust.formats.names import make_uscc
    from trust.service import licenses

    issuer = licenses.register_issuer(
        instance,
        ca_id=ca_id,
        name="浙江省市场监督管理局",
        code=make_uscc("11330000002482226"),
        license_types=[BUSINESS],
        family=family,
    )
    return str(issuer.id)


def build(home: Path) -> FuzzWorld:  # noqa: PLR0915 - one list of seeds, in order
    from licenses import samples
    from seal import samples as pdf_samples
    from tests.support import pdfs
    from tests.support.server import free_port
    from tests.support.world import ZJ_ORG_USCC, build_world
    from trust.crypto import base64url, jwk
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr, ocsp, sdjwt
    from trust.formats import license_token as token
    from trust.formats import tsp as tsp_format
    from trust.formats import x509 as cx
    from trust.formats.names import DN
    from trust.service import ca as ca_service
    from trust.service import licenses, seals, trust
    from trust.service import ocsp as ocsp_service
    from trust.service import tsa as tsa_service
    from trust.service.license_documents import issue_pdf
    from trust.service.seals import signing

    world = build_world(home, free_port())
    instance = world.instance
    seeds: dict[str, list[bytes]] = {}

    # certificates (seal, organisation identity, TLS server; SM2 and RSA) and a CRL revoking one of them
    subject = DN(
        province="浙江省", organization="杭州示例科技有限公司", common_name="合同章", serial_number=ZJ_ORG_USCC
    )
    certs = [
        ca_service.issue(instance, ca_id="region-330000-sm2", profile="seal", subject=subject).certificate,
        ca_service.issue(instance, ca_id="region-330000-rsa", profile="seal", subject=subject).certificate,
        ca_service.issue(
            instance,
            ca_id="region-330000-sm2",
            profile="organization-identity",
            subject=DN(
                province="浙江省",
                organization="杭州示例科技有限公司",
                common_name="杭州示例科技有限公司",
                serial_number=ZJ_ORG_USCC,
            ),
        ).certificate,
    ]
    revoked = ca_service.issue(instance, ca_id="region-330000-sm2", profile="seal", subject=subject).certificate
    ca_service.revoke(instance, serial=cx.serial_hex(revoked.serial_number), reason="key_compromise")
    seeds["certificate"] = [c.dump() for c in certs] + [cx.certificate_pem(certs[0])]
    seeds["crl"] = [
        ca_service.current_crl_der(instance, "region-330000-sm2"),
        ca_service.current_crl_der(instance, "region-330000-rsa"),
    ]
    issuer_sm2 = cx.load_certificate(ca_service.ca_certificate_der(instance, "region-330000-sm2"))
    issuer_rsa = cx.load_certificate(ca_service.ca_certificate_der(instance, "region-330000-rsa"))
    issuers = [issuer_sm2, issuer_rsa]

    # OCSP: requests (with and without nonce, two certificates) and the responder's signed answers
    ids = [
        ocsp.CertId.for_certificate(issuer_sm2, certs[0].serial_number),
        ocsp.CertId.for_certificate(issuer_sm2, revoked.serial_number),
    ]
    requests = [ocsp.build_request(ids[:1]), ocsp.build_request(ids, nonce=b"0123456789abcdef")]
    seeds["ocsp-request"] = requests
    seeds["ocsp-response"] = [ocsp_service.respond(instance, request) for request in requests] + [
        ocsp_service.respond(
            instance, ocsp.build_request([ocsp.CertId.for_certificate(issuer_rsa, certs[1].serial_number)])
        )
    ]

    # time-stamps (RFC 3161) and CMS SignedData (the time-stamp tokens are CMS)
    tsq = [tsp_format.build_request(b"huren fuzz"), tsp_format.build_request(b"x", nonce=7, cert_req=False)]
    seeds["tsp-request"] = tsq
    seeds["tsp-response"] = [tsa_service.timestamp(instance, tsq[0], "SM2"), tsa_service.timestamp(instance, tsq[0])]
    from asn1crypto import tsp as asn1_tsp

    seeds["cms"] = [asn1_tsp.TimeStampResp.load(r)["time_stamp_token"].dump() for r in seeds["tsp-response"]]

    # GB/T 38540 seals and SES signatures
    es_id = seals.create(
        instance,
        ca_id="region-330000-sm2",
        holder_kind="organization",
        holder_name="杭州示例科技有限公司",
        holder_code=ZJ_ORG_USCC,
        seal_name="合同专用章",
        dual=True,
    ).es_id
    seeds["seal"] = [bytes(seals.get(instance, es_id).seal_der)]
    document = "互认 fuzz 文件".encode()
    seeds["ses-signature"] = [
        signing.sign_hash(instance, es_id=es_id, data=document, property_info="fuzz", timestamp=False),
        signing.sign_hash(instance, es_id=es_id, data=document, property_info="fuzz%20timestamp", timestamp=True),
    ]

    # sealed PDFs: SM2 B-T, RSA B-LT, dual B-LTA; the sealed licence PDF comes below
    base = pdfs.base_pdf(1)
    contract = pdf_samples.contract_pdf(1)
    seeds["pdf"] = [
        pdfs.seal_pdf(instance, base, es_id, family="SM2", level="B-T"),
        pdfs.seal_pdf(instance, contract, es_id, family="RSA", level="B-LT"),
        pdfs.seal_pdf(instance, base, es_id, family="dual", level="B-LTA"),
    ]
    # the PDF CMS (detached; the seal's signature over the byte ranges) is a CMS seed too
    padded = bytes.fromhex(re.findall(rb"/Contents\s*<([0-9A-Fa-f]+)>", seeds["pdf"][0])[0].decode())
    seeds["cms"].append(der_children(padded.rstrip(b"\x00"))[0])  # the CMS without /Contents' zero padding

    # licences: tokens (SM2, RSA, ECDSA), SD-JWTs, a key-bound presentation, QR payloads, a licence PDF
    sm2_issuer = _license_issuer(instance, "region-330000-sm2", "SM2")
    rsa_issuer = _license_issuer(instance, "region-330000-rsa", "RSA")
    ec_issuer = _license_issuer(instance, "region-330000-rsa", "EC")
    holder = generate_private_key("ec-p256")
    made = [
        licenses.issue(
            instance,
            issuer_id=sm2_issuer,
            type_code=BUSINESS,
            fields=samples.sample(BUSINESS),
            holder_jwk=jwk.public_jwk(holder.public_key),
            token_form="x5c",
        ),
        *(
            licenses.issue(
                instance, issuer_id=issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS), token_form="x5c"
            )
            for issuer in (rsa_issuer, ec_issuer)
        ),
    ]
    compact = licenses.issue(instance, issuer_id=sm2_issuer, type_code=BUSINESS, fields=samples.sample(BUSINESS))
    seeds["jws"] = [*(m.record.token.encode() for m in made), compact.record.token.encode()]  # x5c and compact forms
    presented = sdjwt.present(
        made[0].record.sd_jwt,
        [("license", "fields", "name"), ("license", "fields", "uscc")],
        holder_signer=holder.signer(),
        nonce="n-123",
        audience="https://bank.example",
    )
    seeds["sd-jwt"] = [made[0].record.sd_jwt.encode(), made[1].record.sd_jwt.encode(), presented.encode()]
    seeds["qr"] = [token.to_qr(m.qr_token).encode() for m in made]
    seeds["pdf"].append(issue_pdf(instance, made[1].record.identifier, qr_token=made[1].qr_token))

    # the signed trust list and offline bundle, and status list tokens
    seeds["trust-list"] = [trust.latest_trust_list(instance).document.encode()]
    bundle = json.dumps(trust.build_bundle(instance)).encode()
    seeds["bundle"] = [bundle]
    seeds["status-list"] = [t["token"].encode() for t in licenses.all_status_list_tokens(instance)][:2]

    # CSRs (PEM and DER, SM2, RSA, ECDSA) and client assertions (RFC 7523)
    seeds["csr"] = [
        csr.build(generate_private_key("sm2"), DN(common_name="平台")),
        csr.build(generate_private_key("rsa-2048"), DN(organization="杭州示例科技有限公司", common_name="x"), pem=True),
        csr.build(generate_private_key("ec-p256"), DN(common_name="ec")),
    ]
    seeds["client-assertion"] = [world.assertion("zj-platform").encode(), world.assertion("national-ops").encode()]

    pins = sorted(trust.root_fingerprints(instance).values())
    fw = FuzzWorld(instance, home, world, bundle, pins, seeds, issuers, document)
    fw.extras["revoked"] = revoked.dump()
    pdf = seeds["pdf"][0]
    start1, length1, start2, length2 = (int(n) for n in re.findall(rb"/ByteRange\s*\[([0-9 ]+)\]", pdf)[0].split())
    fw.extras["pdf-signed-bytes"] = pdf[start1 : start1 + length1] + pdf[start2 : start2 + length2]
    issuer_certs = []  # the licence issuers' certificates (their keys sign the status lists)
    for made_license in made:
        header = json.loads(base64url.decode(made_license.record.token.split(".")[0]))
        issuer_certs.append(base64.b64decode(header["x5c"][0]))
    fw.extras["status-lists"] = [
        (entry["uri"], der) for entry in licenses.all_status_list_tokens(instance)[:2] for der in issuer_certs
    ]
    fw.seeds.update(
        http_seeds(fw, es_id=es_id, issuer_id=sm2_issuer, cert_serial=cx.serial_hex(certs[0].serial_number))
    )
    return fw


def http_seeds(fw: FuzzWorld, *, es_id: str, issuer_id: str, cert_serial: str) -> dict[str, list[bytes]]:
    """Bodies of the routes that read JSON or forms, as ``METHOD path\\n<body>`` (see ``targets.http_request``)."""
    import base64

    from licenses import samples
    from tests.support.world import ZJ_ORG_USCC
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr
    from trust.formats.names import DN

    def line(method: str, path: str, body: Any) -> bytes:
        text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
        return f"{method} {path}\n".encode() + text.encode()

    csr_pem = csr.build(generate_private_key("sm2"), DN(common_name="fuzz"), pem=True).decode()
    subject = {
        "province": "浙江省",
        "organization": "杭州示例科技有限公司",
        "common_name": "x",
        "serial_number": ZJ_ORG_USCC,
    }
    verify_input = base64.b64encode(fw.seeds["jws"][0]).decode()
    return {
        "http-json": [
            line(
                "POST",
                "/certificates",
                {"ca_id": "region-330000-sm2", "profile": "seal", "subject": subject, "csr": csr_pem},
            ),
            line("POST", "/certificates", {"ca_id": "region-330000-sm2", "profile": "seal", "subject": subject}),
            line("POST", f"/certificates/{cert_serial}/revoke", {"reason": "superseded"}),
            line(
                "POST",
                "/seals",
                {
                    "ca_id": "region-330000-sm2",
                    "holder_kind": "organization",
                    "holder_name": "杭州示例科技有限公司",
                    "holder_code": ZJ_ORG_USCC,
                    "seal_name": "财务专用章",
                },
            ),
            line("POST", f"/seals/{es_id}/signatures", {"data_hash": "00" * 32, "property_info": "fuzz"}),
            line("POST", f"/seals/{es_id}/status", {"status": "suspended", "reason": "fuzz"}),
            line("POST", "/licenses", {"issuer_id": issuer_id, "type": BUSINESS, "fields": samples.sample(BUSINESS)}),
            line("POST", "/verify", {"input": verify_input}),
            line(
                "POST",
                "/verify",
                {
                    "input": base64.b64encode(fw.seeds["sd-jwt"][2]).decode(),
                    "kb_nonce": "n-123",
                    "kb_audience": "https://bank.example",
                },
            ),
            line(
                "POST",
                "/verify",
                {
                    "input": base64.b64encode(fw.seeds["ses-signature"][0]).decode(),
                    "data": base64.b64encode(fw.document).decode(),
                },
            ),
        ],
        "http-form": [
            line(
                "POST",
                "/oauth/token",
                "grant_type=client_credentials&client_assertion_type="
                "urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion="
                + fw.world.assertion("zj-platform"),
            )
        ],
    }


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def now() -> datetime:
    return datetime.now(UTC)
