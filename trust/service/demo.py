"""The demo world: a whole small Huren deployment built non-interactively, with an index of artefacts.

``trust demo --home DIR`` builds national roots (SM2, RSA), the national operations CAs with their TSA and
OCSP certificates, the regions 浙江 (330000) and 广东 (440000) with SM2 and RSA CAs, end-entity
certificates of every profile, one revoked certificate, CRLs, OCSP responses and a time-stamp, and writes
them under ``DIR/out/`` with ``DIR/out/index.json``::

    {"version": 1, "public_url": "...", "artefacts": [
        {"id", "kind", "path", "algorithm", "issuer", "expect", "anchors": [root certificate paths], ...}]}

It goes on with electronic seals of both regions (``seals/*.esl``), a GB/T 38540 signature over
``docs/sample.txt``, sealed PDFs (``pdf/``: SM2 B-B, SM2 B-T visible at an anchor, dual SM2+RSA B-LT, RSA B-LTA,
and a tampered copy), and licences of every catalogue type (``licenses/``: JWS token, SD-JWT, ``HR1:`` QR
payload, the sealed licence PDF (dual SM2+RSA, B-LT), a selectively disclosed SD-JWT presentation, one revoked,
one suspended and one tampered token), and one RS256 licence (token and RSA-sealed B-LTA PDF: the largest QR code
a face prints).

Endpoints: certificates, tokens and status lists name ``TRUST_PUBLIC_URL`` when it is set, else
:data:`DEMO_PUBLIC_URL` (``https://trust.demo.huren.example``: under ``.example``, RFC 2606, so it never resolves
and no verifier ever fetches from an unrelated host). Everything a verifier needs is in the offline bundle and, for
PDFs, in the document security store (B-LT). The national operations CA (RSA) issues the demo host's TLS server
certificates (RSA and ECDSA P-256 keys, ``certs/national-*-tls-server.pem``) under a CA without name constraints,
so generic TLS verifiers (pyca/cryptography's) can check them.

``expect`` is the verdict a verifier must give (``TOTAL_PASSED``; ``TOTAL_FAILED`` for the revoked, suspended and
tampered ones). ``data`` names the protected document of a detached signature. Paths are relative to
``DIR/out``.

Without ``TRUST_KEY_PASSPHRASE``/``TRUST_KEY_PASSPHRASE_FILE`` the demo creates a random passphrase in
``DIR/secrets/passphrase`` (mode 0600) and says so; ``trust serve --home DIR`` then finds it there.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from asn1crypto import x509 as asn1_x509

from trust.crypto.errors import ConflictError
from trust.formats import x509 as cx
from trust.formats.names import DN, make_uscc
from trust.service import ca as service
from trust.service.instance import Instance
from trust.settings import Settings

DEMO_PUBLIC_URL: Final = "https://trust.demo.huren.example"
"""The demo's public base URL when ``TRUST_PUBLIC_URL`` is not set (docs/OPERATIONS.md)."""
SAMPLE_DOCUMENT = "互认演示文件：一地注册、各地互认。\nHuren demo document.\n".encode()


def _citizen_id(prefix17: str) -> str:
    from stdnum.iso7064 import mod_11_2

    return prefix17 + str(mod_11_2.calc_check_digit(prefix17))


REGIONS: dict[str, dict[str, str]] = {
    "330000": {
        "province": "浙江省",
        "org": "杭州示例科技有限公司",
        "uscc": make_uscc("91330106MA2CFA4X0"),
        "person": "张三",
        "citizen": _citizen_id("33010619900101001"),
        "seal_maker": "浙江省电子印章制作中心",
        "license_issuer": "浙江省市场监督管理局",
        "platform": "浙江省政务服务平台",
        "dns": "api.zj.gov.example",
        "authority_code": make_uscc("11330000002482226"),
    },
    "440000": {
        "province": "广东省",
        "org": "广州示例有限公司",
        "uscc": make_uscc("91440101MA5CXXX00"),
        "person": "李四",
        "citizen": _citizen_id("44010619920202002"),
        "seal_maker": "广东省电子印章制作中心",
        "license_issuer": "广东省市场监督管理局",
        "platform": "广东省政务服务平台",
        "dns": "api.gd.gov.example",
        "authority_code": make_uscc("11440000006954832"),
    },
}


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with :data:`DEMO_PUBLIC_URL` as the public URL unless ``TRUST_PUBLIC_URL`` gave one."""
    if settings.public_url:
        return settings
    return settings.model_copy(update={"public_url": DEMO_PUBLIC_URL})


def tls_host(public_url: str) -> str:
    """The DNS name of ``public_url`` for the demo's TLS server certificates (an IP address or a name without a dot
    cannot be one: then the host of :data:`DEMO_PUBLIC_URL`)."""
    host = urlsplit(public_url).hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if "." in host:
            return host
    return urlsplit(DEMO_PUBLIC_URL).hostname or ""


@dataclass
class DemoIndex:
    out: Path
    public_url: str = ""
    entries: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        *,
        id: str,
        kind: str,
        path: Path,
        algorithm: str,
        issuer: str | None,
        expect: str,
        anchors: list[Path],
        **extra: Any,
    ) -> None:
        self.entries.append(
            {
                "id": id,
                "kind": kind,
                "path": str(path.relative_to(self.out)),
                "algorithm": algorithm,
                "issuer": issuer,
                "expect": expect,
                "anchors": [str(a.relative_to(self.out)) for a in anchors],
                **extra,
            }
        )

    def write(self) -> Path:
        path = self.out / "index.json"
        document = {"version": 1, "public_url": self.public_url, "artefacts": self.entries}
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
        return path


def ensure_passphrase(home: Path, say: Callable[[str], None]) -> bytes | None:
    """The passphrase to use: from the environment, or a new random one in ``home/secrets/passphrase``."""
    if os.environ.get("TRUST_KEY_PASSPHRASE") or os.environ.get("TRUST_KEY_PASSPHRASE_FILE"):
        return None
    secret_file = home / "secrets" / "passphrase"
    if secret_file.exists():
        say(f"using the demo passphrase in {secret_file}")
        return secret_file.read_bytes().strip()
    secret_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_hex(32).encode()
    fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(value + b"\n")
    say(f"no TRUST_KEY_PASSPHRASE set: created a random key store passphrase in {secret_file} (mode 0600)")
    return value


def _algorithm(cert: asn1_x509.Certificate) -> str:
    return cx.signature_algorithm(cert).name


def build(instance: Instance, say: Callable[[str], None] = print) -> Path:
    """Build the demo world in ``instance``'s home; returns the path of ``out/index.json``."""
    home = instance.settings.home
    out = home / "out"
    if (out / "index.json").exists():
        raise ConflictError(f"{home} already holds a demo world ({out / 'index.json'})")
    for sub in ("certs", "crl", "ocsp", "tsa", "docs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    index = DemoIndex(out, instance.settings.effective_public_url)
    say(f"public URL written into certificates, tokens and status lists: {index.public_url}")
    say("creating the national roots (SM2, RSA 4096) and the national operations CAs")
    service.init(instance)
    anchors: dict[str, Path] = {}

    def write_cert(name: str, cert: asn1_x509.Certificate) -> Path:
        path = out / "certs" / f"{name}.pem"
        path.write_bytes(cx.certificate_pem(cert))
        return path

    for family in ("SM2", "RSA"):
        root_id = service.ROOTS[family]
        root = cx.load_certificate(service.ca_certificate_der(instance, root_id))
        anchors[family] = write_cert(root_id, root)
        index.add(
            id=root_id,
            kind="certificate",
            path=anchors[family],
            algorithm=_algorithm(root),
            issuer=None,
            expect="TOTAL_PASSED",
            anchors=[anchors[family]],
            role="national root",
        )
    for family in ("SM2", "RSA"):
        ops_id = service.NATIONAL[family]
        cert = cx.load_certificate(service.ca_certificate_der(instance, ops_id))
        index.add(
            id=ops_id,
            kind="certificate",
            path=write_cert(ops_id, cert),
            algorithm=_algorithm(cert),
            issuer=service.ROOTS[family],
            expect="TOTAL_PASSED",
            anchors=[anchors[family]],
            role="national operations CA",
        )
    for code in REGIONS:
        for family in ("SM2", "RSA"):
            say(f"enrolling region {code} ({REGIONS[code]['province']}) under the {family} root")
            namespace = REGIONS[code]["dns"].split(".", 1)[1]  # the demo's hosts are in .example (RFC 2606)
            ca = service.enrol(instance, kind="region", code=code, family=family, dns_namespace=namespace)
            cert = cx.load_certificate(ca.cert_der)
            index.add(
                id=ca.id,
                kind="certificate",
                path=write_cert(ca.id, cert),
                algorithm=_algorithm(cert),
                issuer=service.ROOTS[family],
                expect="TOTAL_PASSED",
                anchors=[anchors[family]],
                role="region CA",
            )

    revoked_serial: str | None = None
    good_rsa_serial: str | None = None
    for code, facts in REGIONS.items():
        province = facts["province"]
        subjects = {
            "seal": DN(
                province=province, organization=facts["org"], common_name="合同专用章", serial_number=facts["uscc"]
            ),
            "seal-maker": DN(
                province=province, organization=facts["seal_maker"], common_name=f"{facts['seal_maker']}制章"
            ),
            "person-identity": DN(province=province, common_name=facts["person"], serial_number=facts["citizen"]),
            "organization-identity": DN(
                province=province, organization=facts["org"], common_name=facts["org"], serial_number=facts["uscc"]
            ),
            "license-issuer": DN(
                province=province,
                organization=facts["license_issuer"],
                common_name=f"{facts['license_issuer']}证照签发",
            ),
            "tls-server": DN(province=province, organization=facts["platform"], common_name=facts["dns"]),
            "tls-client": DN(
                province=province, organization=facts["platform"], common_name=f"{facts['platform']}客户端"
            ),
        }
        for family in ("SM2", "RSA"):
            ca_id = service.ca_id_for("region", code, family)
            for profile, subject in subjects.items():
                result = service.issue(
                    instance,
                    ca_id=ca_id,
                    profile=profile,
                    subject=subject,
                    key_family=family,
                    dns_names=[facts["dns"]] if profile == "tls-server" else [],
                )
                name = f"{code}-{family.lower()}-{profile}"
                index.add(
                    id=name,
                    kind="certificate",
                    path=write_cert(name, result.certificate),
                    algorithm=_algorithm(result.certificate),
                    issuer=ca_id,
                    expect="TOTAL_PASSED",
                    anchors=[anchors[family]],
                    profile=profile,
                    serial=result.record.serial,
                    chain=[
                        str(write_cert(f"{name}-chain-{i}", c).relative_to(out))
                        for i, c in enumerate(result.chain[:-1])
                    ],
                )
                if code == "330000" and family == "RSA" and profile == "seal":
                    good_rsa_serial = result.record.serial
        say(f"issued certificates of every profile for {province}")
    # The hub's own TLS server certificates (RSA and ECDSA keys) from the national operations CA, which carries no
    # name constraints: generic TLS verifiers refuse the regional CAs' directoryName constraints (docs/CA.md).
    host = tls_host(index.public_url)
    national = service.NATIONAL["RSA"]
    for key_family in ("RSA", "EC"):
        result = service.issue(
            instance,
            ca_id=national,
            profile="tls-server",
            subject=DN(organization="国家政务服务平台", common_name=host),
            key_family=key_family,
            dns_names=[host],
        )
        name = f"national-{key_family.lower()}-tls-server"
        index.add(
            id=name,
            kind="certificate",
            path=write_cert(name, result.certificate),
            algorithm=_algorithm(result.certificate),
            issuer=national,
            expect="TOTAL_PASSED",
            anchors=[anchors["RSA"]],
            profile="tls-server",
            serial=result.record.serial,
            dns=host,
            chain=[str(write_cert(f"{name}-chain-{i}", c).relative_to(out)) for i, c in enumerate(result.chain[:-1])],
        )
    say(f"issued the national TLS server certificates for {host} (RSA and ECDSA keys)")
    # One revoked certificate (广东, RSA, organisation identity).
    victim = service.issue(
        instance,
        ca_id=service.ca_id_for("region", "440000", "RSA"),
        profile="organization-identity",
        subject=DN(
            province="广东省",
            organization="广州已注销有限公司",
            common_name="广州已注销有限公司",
            serial_number=make_uscc("91440101MA5CYYY00"),
        ),
        key_family="RSA",
    )
    service.revoke(instance, serial=victim.record.serial, reason="cessation_of_operation")
    revoked_serial = victim.record.serial
    index.add(
        id="440000-rsa-revoked",
        kind="certificate",
        path=write_cert("440000-rsa-revoked", victim.certificate),
        algorithm=_algorithm(victim.certificate),
        issuer=victim.record.issuer_id,
        expect="TOTAL_FAILED",
        anchors=[anchors["RSA"]],
        profile="organization-identity",
        serial=revoked_serial,
        reason="REVOKED (cessation_of_operation)",
    )
    say(f"revoked {revoked_serial} (cessation_of_operation)")

    _crls(instance, index, out, anchors)
    _ocsp_and_tsa(instance, index, anchors, good_rsa_serial, revoked_serial, say)
    _seals_and_documents(instance, index, anchors, say)
    _licenses(instance, index, anchors, say)
    _federation(instance, index, say)
    _trust_list_and_bundle(instance, index, anchors, say)
    path = index.write()
    say(f"demo world written: {len(index.entries)} artefacts listed in {path}")
    return path


def _crls(instance: Instance, index: DemoIndex, out: Path, anchors: dict[str, Path]) -> None:
    """Each CA's main CRL and the CRL of every partition (what its certificates name: issuing distribution points)."""
    for ca in service.list_cas(instance):
        if ca.key_id is None:
            continue
        path = out / "crl" / f"{ca.id}.crl"
        path.write_bytes(service.current_crl_der(instance, ca.id))
        index.add(
            id=f"crl-{ca.id}",
            kind="crl",
            path=path,
            algorithm=ca.family,
            issuer=ca.id,
            expect="TOTAL_PASSED",
            anchors=[anchors[ca.family]],
        )
        for shard in service.partitions(instance, ca.id):
            path = out / "crl" / f"{ca.id}-{shard}.crl"
            path.write_bytes(service.partition_crl_der(instance, ca.id, shard))
            index.add(
                id=f"crl-{ca.id}-{shard}",
                kind="crl",
                path=path,
                algorithm=ca.family,
                issuer=ca.id,
                expect="TOTAL_PASSED",
                anchors=[anchors[ca.family]],
            )


def _ocsp_and_tsa(
    instance: Instance,
    index: DemoIndex,
    anchors: dict[str, Path],
    good: str | None,
    revoked: str | None,
    say: Callable[[str], None],
) -> None:
    from trust.formats import ocsp as ocsp_format
    from trust.service import ocsp, tsa

    out = index.out
    for label, serial, expect in (("good", good, "TOTAL_PASSED"), ("revoked", revoked, "TOTAL_FAILED")):
        if serial is None:
            continue
        record = service.get_certificate(instance, serial)
        issuer_cert = cx.load_certificate(service.ca_certificate_der(instance, record.issuer_id))
        cert_id = ocsp_format.CertId.for_certificate(issuer_cert, int(record.serial, 16), "sha256")
        response = ocsp.respond(instance, ocsp_format.build_request([cert_id], nonce=secrets.token_bytes(16)))
        path = out / "ocsp" / f"{label}.ocsp"
        path.write_bytes(response)
        index.add(
            id=f"ocsp-{label}",
            kind="ocsp-response",
            path=path,
            algorithm="RSA",
            issuer=record.issuer_id,
            expect=expect,
            anchors=[anchors["RSA"]],
            serial=serial,
            status="good" if label == "good" else "revoked",
        )
    document = out / "docs" / "sample.txt"
    document.write_bytes(SAMPLE_DOCUMENT)
    for family in ("SM2", "RSA"):
        from trust.formats import tsp as tsa_format

        query = tsa_format.build_request(
            SAMPLE_DOCUMENT, hash_algorithm="sm3" if family == "SM2" else "sha256", nonce=secrets.randbits(64)
        )
        reply = tsa.timestamp(instance, query, family=family)
        path = out / "tsa" / f"sample-{family.lower()}.tsr"
        path.write_bytes(reply)
        index.add(
            id=f"timestamp-{family.lower()}",
            kind="timestamp",
            path=path,
            algorithm=family,
            issuer=service.NATIONAL[family],
            expect="TOTAL_PASSED",
            anchors=[anchors[family]],
            data=str(document.relative_to(out)),
        )
    say("wrote OCSP responses (good, revoked) and time-stamps (SM2, RSA) over docs/sample.txt")


def _seals_and_documents(
    instance: Instance, index: DemoIndex, anchors: dict[str, Path], say: Callable[[str], None]
) -> None:
    """Seals of both regions, a GB/T 38540 signature and sealed PDFs (module docstring)."""
    from seal import samples
    from trust.service import seals
    from trust.service.seals import sealing, signing

    out = index.out
    for sub in ("seals", "pdf"):
        (out / sub).mkdir(exist_ok=True)
    made: dict[str, str] = {}
    for code, facts in REGIONS.items():
        for holder_kind, name, holder, holder_code in (
            ("organization", "合同专用章", facts["org"], facts["uscc"]),
            ("person", "个人签章", facts["person"], facts["citizen"]),
        ):
            record = seals.create(
                instance,
                ca_id=service.ca_id_for("region", code, "SM2"),
                holder_kind=holder_kind,
                holder_name=holder,
                holder_code=holder_code,
                seal_name=name,
                dual=holder_kind == "organization",
            )
            label = f"{code}-{holder_kind}"
            made[label] = record.es_id
            say(f"made the seal {name} of {holder} ({facts['province']})")
            path = out / "seals" / f"{label}.esl"
            path.write_bytes(record.seal_der)
            index.add(
                id=f"seal-{label}",
                kind="seal",
                path=path,
                algorithm="SM2",
                issuer=service.ca_id_for("region", code, "SM2"),
                expect="TOTAL_PASSED",
                anchors=[anchors["SM2"]],
                es_id=record.es_id,
                holder=holder,
            )
    zj = made["330000-organization"]
    signature = out / "seals" / "sample-signature.der"
    signature.write_bytes(signing.sign_hash(instance, es_id=zj, data=SAMPLE_DOCUMENT, property_info="docs/sample.txt"))
    index.add(
        id="ses-signature",
        kind="ses-signature",
        path=signature,
        algorithm="SM2",
        issuer=service.ca_id_for("region", "330000", "SM2"),
        expect="TOTAL_PASSED",
        anchors=[anchors["SM2"]],
        data="docs/sample.txt",
        es_id=zj,
    )
    org = REGIONS["330000"]["org"]
    contract = samples.contract_pdf(2, title="互认演示合同", signature_line=f"甲方（盖章）：{org}")
    (out / "docs" / "contract.pdf").write_bytes(contract)
    variants: list[tuple[str, str, str, dict[str, Any]]] = [
        ("sm2-b-b", "B-B", "SM2", {}),
        ("sm2-b-t-anchor", "B-T", "SM2", {"anchor": org}),
        ("dual-b-lt", "B-LT", "dual", {"page": -1, "box": samples.SEAL_BOX}),
        ("rsa-b-lta", "B-LTA", "RSA", {"page": 1, "box": samples.SEAL_BOX}),
    ]
    sealed_b_t = b""
    for label, level, family, placement in variants:
        say(f"sealing the sample contract: PAdES {level}, {family}")
        sealed = sealing.seal_document(instance, contract, es_id=zj, level=level, family=family, **placement)
        path = out / "pdf" / f"contract-{label}.pdf"
        path.write_bytes(sealed)
        index.add(
            id=f"pdf-{label}",
            kind="pdf",
            path=path,
            algorithm=family,
            issuer=service.ca_id_for("region", "330000", "SM2"),
            expect="TOTAL_PASSED",
            anchors=[anchors["SM2"], anchors["RSA"]],
            level=level,
            es_id=zj,
        )
        if label == "sm2-b-t-anchor":
            sealed_b_t = sealed
    # The tampered copy: one byte of the first content stream changed inside the signed byte range (same length,
    # so the file still parses and the signature is found; its digest no longer matches).
    body = sealed_b_t.index(b"stream", sealed_b_t.index(b"/Length")) + len(b"stream")
    body += 2 if sealed_b_t[body : body + 2] == b"\r\n" else 1
    tampered = sealed_b_t[:body] + bytes([sealed_b_t[body] ^ 0x01]) + sealed_b_t[body + 1 :]
    path = out / "pdf" / "contract-tampered.pdf"
    path.write_bytes(tampered)
    index.add(
        id="pdf-tampered",
        kind="pdf",
        path=path,
        algorithm="SM2",
        issuer=service.ca_id_for("region", "330000", "SM2"),
        expect="TOTAL_FAILED",
        anchors=[anchors["SM2"]],
        reason="HASH_FAILURE (a byte inside the signed range changed)",
    )
    say(f"made {len(made)} seals, a GB/T 38540 signature and {len(variants) + 1} sealed PDFs (one tampered)")


def _licenses(instance: Instance, index: DemoIndex, anchors: dict[str, Path], say: Callable[[str], None]) -> None:
    """Licence issuers for both regions and licences of every catalogue type in every presentation form."""
    from licenses import samples
    from trust.crypto import base64url, jwk
    from trust.crypto.keys import generate_private_key
    from trust.formats import license_catalogue as catalogue
    from trust.formats import license_token as token
    from trust.formats import sdjwt
    from trust.service import license_documents, licenses

    out = index.out
    (out / "licenses").mkdir(exist_ok=True)
    types = [t.code for t in catalogue.all_types()]
    issuers = {
        code: licenses.register_issuer(
            instance,
            ca_id=service.ca_id_for("region", code, "SM2"),
            name=facts["license_issuer"],
            code=facts["authority_code"],
            license_types=types,
        )
        for code, facts in REGIONS.items()
    }

    def add(label: str, kind: str, text: str, expect: str, **extra: Any) -> None:
        path = out / "licenses" / f"{label}.txt"
        path.write_text(text + "\n")
        index.add(
            id=f"license-{label}",
            kind=kind,
            path=path,
            algorithm="SM2",
            issuer=issuers["330000"].id,
            expect=expect,
            anchors=[anchors["SM2"]],
            **extra,
        )

    def add_pdf(
        label: str, identifier: str, qr_token: str, *, issuer: str, family: str, level: str, **extra: Any
    ) -> None:
        """The sealed licence PDF; its face prints the QR token issuance returned (the ``-qr`` artefact's payload)
        when it fits version 25, else one fitted to it (RS256)."""
        pdf = license_documents.issue_pdf(instance, identifier, level=level, family=family, qr_token=qr_token)
        path = out / "licenses" / f"{label}.pdf"
        path.write_bytes(pdf)
        index.add(
            id=f"license-{label}-pdf",
            kind="license-pdf",
            path=path,
            algorithm=family,
            issuer=issuer,
            expect="TOTAL_PASSED",
            anchors=[anchors["SM2"], anchors["RSA"]],
            identifier=identifier,
            level=level,
            **extra,
        )

    holder = generate_private_key("ec-p256")
    for license_type in catalogue.all_types():
        made = licenses.issue(
            instance,
            issuer_id=issuers["330000"].id,
            type_code=license_type.code,
            fields=samples.sample(license_type.code),
            holder_code=samples.NEWBORN_ID if license_type.code.endswith("W104") else None,
            holder_jwk=jwk.public_jwk(holder.public_key),
        )
        name = license_type.code[-4:].lower()
        facts = {"identifier": made.record.identifier, "type": license_type.name}
        add(f"{name}-token", "license-token", made.record.token, "TOTAL_PASSED", **facts)
        add(f"{name}-sd-jwt", "license-sd-jwt", made.record.sd_jwt, "TOTAL_PASSED", **facts)
        add(f"{name}-qr", "license-qr", token.to_qr(made.qr_token), "TOTAL_PASSED", **facts)
        add_pdf(name, made.record.identifier, made.qr_token, issuer=issuers["330000"].id, family="dual", level="B-LT")
        if license_type.code.endswith("W101"):
            ofd = license_documents.issue_ofd(instance, made.record.identifier, qr_token=made.qr_token)
            path = out / "licenses" / f"{name}.ofd"
            path.write_bytes(ofd)
            index.add(
                id=f"license-{name}-ofd",
                kind="ofd",
                path=path,
                algorithm="SM2",
                issuer=issuers["330000"].id,
                expect="TOTAL_PASSED",
                anchors=[anchors["SM2"]],
                **facts,
            )
    business = catalogue.all_types()[0].code
    made = licenses.issue(instance, issuer_id=issuers["330000"].id, type_code=business, fields=samples.sample(business))
    presented = sdjwt.present(made.record.sd_jwt, [("license", "fields", "name"), ("license", "fields", "uscc")])
    add("w101-presentation", "license-sd-jwt", presented, "TOTAL_PASSED", disclosed=["name", "uscc"])
    for status in ("revoked", "suspended"):
        victim = licenses.issue(
            instance, issuer_id=issuers["330000"].id, type_code=business, fields=samples.sample(business)
        )
        licenses.set_status(instance, victim.record.identifier, status, reason="演示")
        add(f"w101-{status}", "license-token", victim.record.token, "TOTAL_FAILED", status=status)
    # The tampered token: the holder's name changed in the payload, the issuer's signature kept.
    header, payload, signature = made.record.token.split(".")
    claims = json.loads(base64url.decode(payload))
    claims["license"]["fields"]["name"] = "冒名顶替有限公司"
    forged = base64url.encode(json.dumps(claims, ensure_ascii=False, separators=(",", ":")).encode())
    add("w101-tampered", "license-token", f"{header}.{forged}.{signature}", "TOTAL_FAILED", reason="signature")
    # An RS256 licence: its 256-byte signature makes the largest QR code a face prints (the face's QR token leaves
    # out fields until it fits version 25, docs/LICENSES.md); sealed with RSA only, at B-LTA.
    rs256 = licenses.register_issuer(
        instance,
        ca_id=service.ca_id_for("region", "330000", "RSA"),
        name=REGIONS["330000"]["license_issuer"],
        code=REGIONS["330000"]["authority_code"],
        license_types=[business],
        family="RSA",
    )
    made = licenses.issue(instance, issuer_id=rs256.id, type_code=business, fields=samples.sample(business))
    path = out / "licenses" / "w101-rs256-token.txt"
    path.write_text(made.record.token + "\n")
    index.add(
        id="license-w101-rs256-token",
        kind="license-token",
        path=path,
        algorithm="RSA",
        issuer=rs256.id,
        expect="TOTAL_PASSED",
        anchors=[anchors["RSA"]],
        identifier=made.record.identifier,
    )
    add_pdf("w101-rs256", made.record.identifier, made.qr_token, issuer=rs256.id, family="RSA", level="B-LTA")
    gd = catalogue.all_types()[1].code
    cross = licenses.issue(instance, issuer_id=issuers["440000"].id, type_code=gd, fields=samples.sample(gd))
    path = out / "licenses" / "440000-w102-token.txt"
    path.write_text(cross.record.token + "\n")
    index.add(
        id="license-440000-w102-token",
        kind="license-token",
        path=path,
        algorithm="SM2",
        issuer=issuers["440000"].id,
        expect="TOTAL_PASSED",
        anchors=[anchors["SM2"]],
        identifier=cross.record.identifier,
    )
    say(
        f"registered licence issuers for {len(issuers)} regions and issued licences of {len(types)} types "
        "(token, SD-JWT, HR1 QR payload, sealed PDF), and an RS256 licence"
    )


DEMO_PASSWORD: Final = "huren-demo"  # noqa: S105 - the demo accounts' published password, not a secret
"""The demo citizens' password (the demo login; docs/IDENTITY.md)."""
DEMO_SERVICES: Final = (
    ("330000", "zj-service", "浙江政务服务网", None),
    ("440000", "gd-service", "广东政务服务网", None),
    ("440000", "gd-permit", "广东省许可审批（需二级认证）", "urn:huren:loa:2"),
)


def _federation(instance: Instance, index: DemoIndex, say: Callable[[str], None]) -> None:
    """The identity federation: the anchor, one OP per region (trust mark level 2), the relying services, the demo
    citizens, and every entity configuration saved as an ``entity-configuration`` artefact."""
    from trust.formats import federation
    from trust.formats.idcodes import mask
    from trust.service.identity import anchor, citizen_page, op

    say("identity federation: the trust anchor, the regional OpenID Providers and the relying services")
    anchor.init(instance)
    for code, facts in REGIONS.items():
        anchor.register(instance, kind=anchor.KIND_OP, region_code=code, name=f"{facts['province']}统一身份认证平台")
        anchor.grant_trust_mark(instance, anchor.hosted_op_id(instance, code), 2)
        op.add_citizen(instance, facts["citizen"], facts["person"], DEMO_PASSWORD)
    for code, slug, name, level in DEMO_SERVICES:
        metadata = {anchor.KIND_RP: {"default_acr_values": [level]}} if level else None
        anchor.register(instance, kind=anchor.KIND_RP, region_code=code, name=name, slug=slug, metadata=metadata)
    citizen_page.register(instance, next(iter(REGIONS)))  # the citizen's licence page (/citizen) logs in here too
    folder = index.out / "federation"
    folder.mkdir(parents=True, exist_ok=True)
    base = anchor.anchor_id(instance)
    configurations = [("anchor", base, anchor.anchor_configuration(instance))]
    configurations += [
        (row.id.removeprefix(base + "/").replace("/", "-"), row.id, anchor.entity_configuration(instance, row.id))
        for row in anchor.entities(instance)
    ]
    for label, entity_id, token in configurations:
        path = folder / f"{label}.jwt"
        path.write_text(token + "\n")
        statement = federation.parse_statement(token)
        index.add(
            id=f"entity-configuration-{label}",
            kind="entity-configuration",
            path=path,
            algorithm=str(statement.header.get("alg")),
            issuer=entity_id,
            expect="TOTAL_PASSED",
            anchors=[],
            url=f"{entity_id.removeprefix(base)}/.well-known/openid-federation",
            entity_id=entity_id,
        )
    accounts = folder / "demo-citizens.txt"  # full citizen ID numbers stay out of the console and the logs
    accounts.write_text(
        "".join(f"{facts['province']} {facts['citizen']} {DEMO_PASSWORD}\n" for facts in REGIONS.values())
    )
    accounts.chmod(0o600)
    for code, facts in REGIONS.items():
        say(f"  {facts['province']}: OP {anchor.hosted_op_id(instance, code)}; demo citizen {mask(facts['citizen'])}")
    say(f"  demo logins (citizen ID number, password) in {accounts}; one-time codes appear in the log")
    say(f"  services: {', '.join(f'{base}/rp/{slug}/' for _code, slug, _name, _level in DEMO_SERVICES)}")
    say(f"  the citizen's licence page: {base}/citizen (signs in through the regional OPs)")


def _trust_list_and_bundle(
    instance: Instance, index: DemoIndex, anchors: dict[str, Path], say: Callable[[str], None]
) -> None:
    from trust.service import trust

    out = index.out
    record = trust.latest_trust_list(instance)
    trust_list = out / "trustlist.json"
    trust_list.write_text(record.document)
    index.add(
        id="trust-list",
        kind="trust-list",
        path=trust_list,
        algorithm="SM2+RSA",
        issuer="national roots",
        expect="TOTAL_PASSED",
        anchors=[anchors["SM2"], anchors["RSA"]],
        sequence=record.sequence,
    )
    bundle = trust.export_bundle(instance, out / "bundle.json")
    index.add(
        id="bundle",
        kind="bundle",
        path=bundle,
        algorithm="SM2+RSA",
        issuer="national roots",
        expect="TOTAL_PASSED",
        anchors=[anchors["SM2"], anchors["RSA"]],
    )
    pins = trust.root_fingerprints(instance)
    (out / "roots.txt").write_text("".join(f"{family} {fp}\n" for family, fp in pins.items()))
    say(f"trust list {record.sequence} and the offline bundle written; verifiers pin the roots in {out / 'roots.txt'}:")
    for family, fp in pins.items():
        say(f"  {family} {fp}")
    say(f"  try: trust verify {out / 'certs' / '440000-sm2-seal.pem'} --bundle {bundle} --pin {pins['SM2']}")
    say(f"       trust verify {out / 'pdf' / 'contract-dual-b-lt.pdf'} --bundle {bundle} --pin {pins['SM2']}")
    say(f"       trust verify {out / 'licenses' / 'w101-qr.txt'} --bundle {bundle} --pin {pins['SM2']}")
    say(f"       trust verify {out / 'licenses' / 'w101.pdf'} --bundle {bundle} --pin {pins['SM2']}")
