"""Hostile inputs to the certificate verifier: each gives a report or a clear :class:`InputError` (``trust verify``:
exit code 3) within bounded time and memory, and nothing forged is ever TOTAL_PASSED.

Bounds (generous, but real): every call under :func:`bounded` must take under 10 s of CPU time (and under 60 s of
wall time, so a hang or a sleep fails too; CPU time keeps a loaded machine from failing the bound) and may raise
the process's resident memory by at most 500 MB (its peak, reset before the call, minus its resident size before
the call); every ``trust verify`` subprocess must take under 10 s of CPU time (interpreter start included; 60 s of
wall time) and its peak resident set size (``VmHWM``) must stay under 500 MB. The limits the verifier
enforces are in :mod:`verifier.limits` and ``trust.formats.x509.MAX_CERT_BYTES``.

The PKI here is made for these tests (SM2 keys from :func:`trust.crypto.keys.generate_private_key`, certificates
from :class:`trust.formats.x509.CertificateBuilder`): a root, a CA whose name constraints exclude the DNS subtree
``evil.test``, and a leaf.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import core, x509

from trust.crypto.errors import Code, InputError
from trust.crypto.keys import PrivateKey, PublicKey, generate_private_key
from trust.formats import x509 as cx
from verifier import api, context, limits
from verifier.certificate import verify_certificate
from verifier.context import VerificationContext
from verifier.report import Indication, Report, SubIndication

# The time bound is on CPU seconds (this process's, or the CLI child's), so a loaded CI machine does not fail it;
# the wall clock gets a looser bound that still catches a call that hangs or sleeps.
SECONDS = 10.0
WALL_SECONDS = 60.0
MEMORY = 500 * 1024 * 1024
NOW = datetime.now(UTC).replace(microsecond=0)
CA_NAME = x509.Name.build({"common_name": "Hostile Test CA", "organization_name": "Huren tests"})
ROOT_NAME = x509.Name.build({"common_name": "Hostile Test Root", "organization_name": "Huren tests"})


# --- bounds ------------------------------------------------------------------------------------------------


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field, in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def bounded(call: Callable[[], Any]) -> Any:
    """``call()``'s result, or the exception it raised; asserts the time and memory bounds.

    Memory: the process's peak resident set size is reset before the call (``/proc/self/clear_refs``, Linux) and
    read after it (``VmHWM``); the peak minus the resident size before the call is what the call added at most.
    (``tracemalloc`` would be exact for Python objects but slows the calls several-fold, which would blur the time
    bound.)"""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # reset the peak ("high water mark") to the current resident size
    before = _status("VmRSS")
    start, cpu_start = time.monotonic(), time.process_time()
    try:
        outcome = call()
    except Exception as exc:
        outcome = exc
    elapsed, cpu = time.monotonic() - start, time.process_time() - cpu_start
    used = _status("VmHWM") - before
    assert cpu < SECONDS, f"took {cpu:.1f} CPU seconds"
    assert elapsed < WALL_SECONDS, f"took {elapsed:.1f} s"
    assert used < MEMORY, f"used up to {used / 2**20:.0f} MiB"
    return outcome


def input_error(outcome: Any, code: Code | None = None) -> InputError:
    assert isinstance(outcome, InputError), f"expected an InputError, got {outcome!r}"
    if code is not None:
        assert outcome.code is code, outcome
    assert outcome.message
    return outcome


def report(outcome: Any) -> Report:
    assert isinstance(outcome, Report), f"expected a report, got {outcome!r}"
    return outcome


def not_passed(outcome: Any) -> Report:
    """A report that is not TOTAL_PASSED, or an input error (both are acceptable answers to a forgery)."""
    if isinstance(outcome, InputError):
        return None  # type: ignore[return-value]
    result = report(outcome)
    assert result.indication is not Indication.TOTAL_PASSED, result.to_text()
    return result


# `python -m trust.cli.main verify ARGS`, writing its own peak resident size (VmHWM, KiB) to a file at exit. Not
# ru_maxrss of the child: that survives exec and starts at the pytest parent's peak (vfork shares its memory).
_MEASURED_CLI = """
import atexit, runpy, sys
target = sys.argv[1]
def _peak():
    with open('/proc/self/status') as status, open(target, 'w') as out:
        out.write(next(line.split()[1] for line in status if line.startswith('VmHWM:')))
atexit.register(_peak)
sys.argv = ['trust', 'verify', *sys.argv[2:]]
runpy.run_module('trust.cli.main', run_name='__main__')
"""


def _children_cpu() -> float:
    """CPU seconds (user + system) of the waited-for child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def trust_verify(args: Sequence[str], tmp_path: Path) -> subprocess.CompletedProcess[bytes]:
    peak_file = tmp_path / "peak-kib"
    start, children_start = time.monotonic(), _children_cpu()
    result = subprocess.run(
        [sys.executable, "-c", _MEASURED_CLI, str(peak_file), *args],
        capture_output=True,
        check=False,
        timeout=120,
        cwd=tmp_path,
    )
    elapsed, cpu = time.monotonic() - start, _children_cpu() - children_start
    assert cpu < SECONDS, f"trust verify took {cpu:.1f} CPU seconds"
    assert elapsed < WALL_SECONDS, f"trust verify took {elapsed:.1f} s"
    max_rss = int(peak_file.read_text()) * 1024
    assert max_rss < MEMORY, f"trust verify used {max_rss / 2**20:.0f} MiB"
    return result


# --- a small PKI -------------------------------------------------------------------------------------------


def make_cert(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: PublicKey,
    signer: PrivateKey,
    serial: int,
    *,
    ca: bool = False,
    ski: bytes | None = None,
    aki: PublicKey | None = None,
    extensions: Sequence[cx.Ext] = (),
) -> x509.Certificate:
    builder = (
        cx.CertificateBuilder()
        .subject(subject)
        .issuer(issuer)
        .public_key(public_key)
        .serial_number(serial)
        .validity(NOW - timedelta(days=1), NOW + timedelta(days=30))
        .add_extension(cx.basic_constraints(ca))
    )
    if ca:
        builder = builder.add_extension(cx.key_usage({"key_cert_sign", "crl_sign"}))
    builder = builder.add_extension(cx.Ext("key_identifier", ski if ski is not None else public_key.key_identifier()))
    if aki is not None:
        builder = builder.add_extension(cx.authority_key_identifier(aki))
    for extension in extensions:
        builder = builder.add_extension(extension)
    return builder.sign(signer.signer())


def dns_exclusion(subtree: str) -> cx.Ext:
    return cx.Ext(
        "name_constraints",
        {"excluded_subtrees": [{"base": x509.GeneralName(name="dns_name", value=subtree)}]},
        critical=True,
    )


def pem(certs: Sequence[x509.Certificate]) -> bytes:
    return b"".join(cx.certificate_pem(cert) for cert in certs)


@dataclass
class Pki:
    root_key: PrivateKey
    root: x509.Certificate
    ca_key: PrivateKey
    ca: x509.Certificate
    leaf_key: PrivateKey
    leaf: x509.Certificate

    def context(self, *untrusted: bytes, **kwargs: Any) -> VerificationContext:
        return context.build(anchors=[self.root.dump()], untrusted=list(untrusted), **kwargs)

    def issue(
        self,
        serial: int,
        *,
        subject: x509.Name | None = None,
        extensions: Sequence[cx.Ext] = (),
        signer: PrivateKey | None = None,
    ) -> x509.Certificate:
        """A leaf issued (or, with ``signer``, forged) in the CA's name."""
        return make_cert(
            subject or x509.Name.build({"common_name": f"leaf {serial}"}),
            CA_NAME,
            self.leaf_key.public_key,
            signer or self.ca_key,
            serial,
            aki=self.ca_key.public_key,
            extensions=extensions,
        )


@pytest.fixture(scope="module")
def pki() -> Pki:
    root_key, ca_key, leaf_key = (generate_private_key("sm2") for _ in range(3))
    root = make_cert(ROOT_NAME, ROOT_NAME, root_key.public_key, root_key, 1, ca=True)
    ca = make_cert(
        CA_NAME,
        ROOT_NAME,
        ca_key.public_key,
        root_key,
        2,
        ca=True,
        aki=root_key.public_key,
        extensions=[dns_exclusion("evil.test")],
    )
    leaf = make_cert(
        x509.Name.build({"common_name": "Hostile Test Leaf"}),
        CA_NAME,
        leaf_key.public_key,
        ca_key,
        3,
        aki=ca_key.public_key,
    )
    return Pki(root_key, root, ca_key, ca, leaf_key, leaf)


def test_the_pki_itself_verifies(pki: Pki) -> None:
    result = report(bounded(lambda: api.verify(pki.leaf.dump(), pki.context(pki.ca.dump()))))
    assert result.indication is Indication.TOTAL_PASSED, result.to_text()
    assert [link.source for link in result.chain] == ["input", "untrusted", "anchor"]


# --- unreadable input --------------------------------------------------------------------------------------

GARBAGE = [
    b"",
    b"\x00",
    b"\x30",
    b"\x30\x00",
    b"\x30\x80\x00\x00",
    bytes(range(256)) * 4,
    b"hello, world\n",
    b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n",
    b"-----BEGIN CERTIFICATE-----\nMIIB\n",
    b"\xef\xbb\xbf" + b"\xff" * 100,
]


@pytest.mark.parametrize("data", GARBAGE, ids=[f"garbage-{i}" for i in range(len(GARBAGE))])
def test_garbage_is_an_input_error(pki: Pki, data: bytes) -> None:
    ctx = pki.context(pki.ca.dump())
    input_error(bounded(lambda: api.verify(data, ctx)))
    input_error(bounded(lambda: context.build(anchors=[pki.root.dump()], untrusted=[data])))


def test_garbage_and_empty_through_the_cli(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(cx.certificate_pem(pki.root))
    for index, data in enumerate((b"", b"\x30\x03\x02\x01\x01", b"garbage")):
        target = tmp_path / f"input-{index}"
        target.write_bytes(data)
        result = trust_verify([str(target), "--anchor", "root.pem"], tmp_path)
        assert result.returncode == 3, (data, result.stdout, result.stderr)
        assert result.stderr.strip() and b"Traceback" not in result.stderr


def test_truncated_der_at_every_cut_point(pki: Pki) -> None:
    der = pki.leaf.dump()
    ctx = pki.context(pki.ca.dump())

    def every_cut() -> list[Any]:
        outcomes: list[Any] = []
        for cut in range(len(der)):
            try:
                outcomes.append(api.verify(der[:cut], ctx))
            except InputError as exc:
                outcomes.append(exc)
        return outcomes

    outcomes = bounded(every_cut)
    assert len(outcomes) == len(der)
    for cut, outcome in enumerate(outcomes):
        assert isinstance(outcome, InputError), (cut, outcome)
    for extra in (b"\x00", b"\x30\x00", der):  # trailing data is refused as well
        input_error(bounded(partial(api.verify, der + extra, ctx)))


def test_no_single_bit_flip_passes(pki: Pki) -> None:
    der = pki.leaf.dump()
    ctx = pki.context(pki.ca.dump())

    def every_flip() -> list[Any]:
        outcomes: list[Any] = []
        for index in range(len(der)):
            flipped = bytearray(der)
            flipped[index] ^= 0x01
            try:
                outcomes.append(api.verify(bytes(flipped), ctx))
            except InputError as exc:
                outcomes.append(exc)
        return outcomes

    outcomes = bounded(every_flip)
    assert len(outcomes) == len(der)
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, Report):
            assert not outcome.passed, (index, outcome.to_text())
        else:
            assert isinstance(outcome, InputError), (index, outcome)


# --- size --------------------------------------------------------------------------------------------------

FIFTY_MB = 50 * 1024 * 1024


def _fifty_megabytes() -> Iterator[tuple[str, bytes]]:
    yield "der-claiming-50mb", b"\x30\x84" + (FIFTY_MB - 6).to_bytes(4, "big") + bytes(FIFTY_MB - 6)
    body = b"MIIB" * (FIFTY_MB // 4 // 65) + b"\n"
    yield "pem", b"-----BEGIN CERTIFICATE-----\n" + body * 64 + b"-----END CERTIFICATE-----\n"
    yield "zeros", bytes(FIFTY_MB)


@pytest.mark.parametrize("kind", ["der-claiming-50mb", "pem", "zeros"])
def test_fifty_megabytes_through_the_library(pki: Pki, kind: str) -> None:
    data = dict(_fifty_megabytes())[kind]
    assert len(data) >= 49 * 1024 * 1024
    ctx = pki.context(pki.ca.dump())
    input_error(bounded(lambda: api.verify(data, ctx)))
    input_error(bounded(lambda: pki.context(data)))  # as path material: over the size limits, refused


@pytest.mark.slow
def test_fifty_megabytes_through_the_cli(pki: Pki, tmp_path: Path) -> None:
    (tmp_path / "root.pem").write_bytes(cx.certificate_pem(pki.root))
    (tmp_path / "leaf.pem").write_bytes(cx.certificate_pem(pki.leaf))
    (tmp_path / "ca.pem").write_bytes(cx.certificate_pem(pki.ca))
    for kind, data in _fifty_megabytes():
        big = tmp_path / f"{kind}.bin"
        big.write_bytes(data)
        as_input = trust_verify([str(big), "--anchor", "root.pem"], tmp_path)
        assert as_input.returncode == 3, (kind, as_input.stdout[-500:], as_input.stderr[-500:])
        as_untrusted = trust_verify(["leaf.pem", "--anchor", "root.pem", "--untrusted", str(big)], tmp_path)
        assert as_untrusted.returncode == 3, (kind, as_untrusted.stderr[-500:])
        big.unlink()
    sane = trust_verify(["leaf.pem", "--anchor", "root.pem", "--untrusted", "ca.pem"], tmp_path)
    assert sane.returncode == 0, sane.stdout


# --- path building -----------------------------------------------------------------------------------------


def test_two_cas_certifying_each_other(pki: Pki) -> None:
    key_a, key_b = generate_private_key("sm2"), generate_private_key("sm2")
    name_a = x509.Name.build({"common_name": "Loop A"})
    name_b = x509.Name.build({"common_name": "Loop B"})
    a = make_cert(name_a, name_b, key_a.public_key, key_b, 10, ca=True, aki=key_b.public_key)
    b = make_cert(name_b, name_a, key_b.public_key, key_a, 11, ca=True, aki=key_a.public_key)
    leaf = make_cert(
        x509.Name.build({"common_name": "Loop leaf"}), name_a, pki.leaf_key.public_key, key_a, 12, aki=key_a.public_key
    )
    result = not_passed(bounded(lambda: verify_certificate(leaf, pki.context(pem([a, b])))))
    assert (result.indication, result.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    # the loop next to the real chain changes nothing for the real leaf
    ok = report(bounded(lambda: verify_certificate(pki.leaf, pki.context(pem([a, b, pki.ca])))))
    assert ok.passed, ok.to_text()


def _impostors(pki: Pki, count: int, *, self_issued: bool) -> list[x509.Certificate]:
    """CA certificates with the real CA's name and key identifier but other keys, each "signed" by a key that
    is not the root's (or, ``self_issued``, naming the CA itself as issuer)."""
    ski = pki.ca.key_identifier
    forger = generate_private_key("sm2")
    issuer = CA_NAME if self_issued else ROOT_NAME
    certs = []
    for index in range(count):
        key = generate_private_key("sm2")
        certs.append(
            make_cert(
                CA_NAME,
                issuer,
                key.public_key,
                forger,
                1000 + index,
                ca=True,
                ski=ski,
                aki=pki.root_key.public_key if not self_issued else None,
            )
        )
    return certs


@pytest.fixture(scope="module")
def impostors(pki: Pki) -> dict[str, list[x509.Certificate]]:
    return {
        "root-issued": _impostors(pki, 1000, self_issued=False),
        "self-issued": _impostors(pki, 1000, self_issued=True),
    }


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["root-issued", "self-issued"])
def test_a_thousand_impostor_intermediates(pki: Pki, impostors: dict[str, list[x509.Certificate]], kind: str) -> None:
    fakes = impostors[kind]
    assert len(fakes) == 1000 and all(
        f.subject == pki.ca.subject and f.key_identifier == pki.ca.key_identifier for f in fakes
    )
    with_real = pem([*fakes, pki.ca])  # the real CA comes last
    result = report(bounded(lambda: verify_certificate(pki.leaf, pki.context(with_real))))
    assert result.passed, result.to_text()
    assert result.chain[1].fingerprint == cx.fingerprint(pki.ca)
    without = not_passed(bounded(lambda: verify_certificate(pki.leaf, pki.context(pem(fakes)))))
    assert without.sub_indication in (
        SubIndication.CERTIFICATE_CHAIN_GENERAL_FAILURE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    ), without.to_text()
    forged = pki.issue(50, signer=generate_private_key("sm2"))
    not_passed(bounded(lambda: verify_certificate(forged, pki.context(with_real))))


@pytest.mark.slow
def test_a_thousand_impostors_through_the_cli(
    pki: Pki, impostors: dict[str, list[x509.Certificate]], tmp_path: Path
) -> None:
    (tmp_path / "root.pem").write_bytes(cx.certificate_pem(pki.root))
    (tmp_path / "leaf.pem").write_bytes(cx.certificate_pem(pki.leaf))
    (tmp_path / "pile.pem").write_bytes(pem([*impostors["self-issued"], pki.ca]))
    result = trust_verify(["leaf.pem", "--anchor", "root.pem", "--untrusted", "pile.pem"], tmp_path)
    assert result.returncode == 0, (result.stdout, result.stderr)


@pytest.mark.slow
def test_a_web_of_forgers_that_verify_each_other_is_cut_off(pki: Pki) -> None:
    """Self-issued certificates in the CA's name among keys an attacker holds, every key certifying every
    other: every link verifies, the number of paths is astronomical; the search budget ends it."""
    keys = [generate_private_key("sm2") for _ in range(30)]
    web = [
        make_cert(CA_NAME, CA_NAME, subject.public_key, signer, 5000 + 100 * i + j, ca=True, aki=signer.public_key)
        for i, subject in enumerate(keys)
        for j, signer in enumerate(keys)
        if i != j
    ]
    leaf = make_cert(
        x509.Name.build({"common_name": "web leaf"}),
        CA_NAME,
        pki.leaf_key.public_key,
        keys[0],
        9,
        aki=keys[0].public_key,
    )
    assert len(web) == 870
    result = not_passed(bounded(lambda: verify_certificate(leaf, pki.context(pem([*web, pki.ca])))))
    assert result.indication is not Indication.TOTAL_PASSED
    # the genuine leaf still verifies next to the web
    genuine = report(bounded(lambda: verify_certificate(pki.leaf, pki.context(pem([*web, pki.ca])))))
    assert genuine.passed, genuine.to_text()


def _chain(pki: Pki, depth: int) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """A genuine chain of ``depth`` CAs below the root, and a leaf below the last one."""
    cas, issuer_key, issuer_name = [], pki.root_key, ROOT_NAME
    for level in range(depth):
        key = generate_private_key("sm2")
        name = x509.Name.build({"common_name": f"Level {level} CA"})
        cas.append(
            make_cert(name, issuer_name, key.public_key, issuer_key, 100 + level, ca=True, aki=issuer_key.public_key)
        )
        issuer_key, issuer_name = key, name
    leaf = make_cert(
        x509.Name.build({"common_name": "deep leaf"}),
        issuer_name,
        pki.leaf_key.public_key,
        issuer_key,
        99,
        aki=issuer_key.public_key,
    )
    return leaf, cas


def test_path_length_is_capped(pki: Pki) -> None:
    longest = limits.MAX_PATH_CERTS - 1  # CAs below the anchor, plus the leaf
    leaf, cas = _chain(pki, longest)
    fits = report(bounded(lambda: verify_certificate(leaf, pki.context(pem(cas)))))
    assert fits.passed and len(fits.chain) == limits.MAX_PATH_CERTS + 1, fits.to_text()
    leaf, cas = _chain(pki, longest + 1)
    too_long = not_passed(bounded(lambda: verify_certificate(leaf, pki.context(pem(cas)))))
    assert (too_long.indication, too_long.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )
    assert f"at most {limits.MAX_PATH_CERTS} certificates" in too_long.errors[0], too_long.errors


# --- big and deep certificates -----------------------------------------------------------------------------


def _sans(names: Sequence[str]) -> cx.Ext:
    return cx.Ext("subject_alt_name", [x509.GeneralName(name="dns_name", value=name) for name in names])


def test_ten_thousand_subject_alt_names(pki: Pki) -> None:
    ctx = pki.context(pki.ca.dump())
    # 10,000 ordinary host names do not fit the 64 KiB certificate limit: refused before anything else
    large = pki.issue(20, extensions=[_sans([f"host-{i}.example.cn" for i in range(10_000)])])
    assert len(large.dump()) > cx.MAX_CERT_BYTES
    input_error(bounded(lambda: api.verify(large.dump(), ctx)))
    input_error(bounded(lambda: pki.context(large.dump())), Code.INPUT_TOO_LARGE)
    input_error(bounded(lambda: api.verify(cx.certificate_pem(large), ctx)), Code.INPUT_TOO_LARGE)
    # 10,000 short names fit; each is checked against the CA's excluded subtree
    short = [f"{i:x}" for i in range(10_000)]
    genuine = pki.issue(21, extensions=[_sans(short)])
    assert len(genuine.dump()) <= cx.MAX_CERT_BYTES
    assert report(bounded(lambda: api.verify(genuine.dump(), ctx))).passed
    excluded = pki.issue(22, extensions=[_sans([*short[:-1], "www.evil.test"])])
    result = not_passed(bounded(lambda: api.verify(excluded.dump(), ctx)))
    assert result.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE, result.to_text()
    forged = pki.issue(23, extensions=[_sans(short)], signer=generate_private_key("sm2"))
    not_passed(bounded(lambda: api.verify(forged.dump(), ctx)))


def _rdns(count: int) -> x509.Name:
    value = x509.DirectoryString(name="utf8_string", value="a")
    rdn = x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": "common_name", "value": value})])
    return x509.Name(name="", value=x509.RDNSequence([rdn] * count))


def test_ten_thousand_rdns(pki: Pki) -> None:
    ctx = pki.context(pki.ca.dump())
    huge = pki.issue(30, subject=_rdns(10_000))
    assert len(huge.dump()) > cx.MAX_CERT_BYTES  # an RDN is at least 9 octets: 10,000 never fit
    input_error(bounded(lambda: api.verify(huge.dump(), ctx)))
    input_error(bounded(lambda: pki.context(huge.dump())), Code.INPUT_TOO_LARGE)
    many = pki.issue(31, subject=_rdns(5_000))
    assert len(many.dump()) <= cx.MAX_CERT_BYTES
    assert report(bounded(lambda: api.verify(many.dump(), ctx))).passed  # genuine, if odd
    forged = pki.issue(32, subject=_rdns(5_000), signer=generate_private_key("sm2"))
    not_passed(bounded(lambda: api.verify(forged.dump(), ctx)))


def _nested(tag: int, depth: int, innermost: bytes) -> bytes:
    value = innermost
    for _ in range(depth):
        value = bytes([tag]) + _length(len(value)) + value
    return value


def _length(size: int) -> bytes:
    if size < 0x80:
        return bytes([size])
    octets = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


@pytest.mark.parametrize(
    "tag,innermost",
    [(0x30, b"\x05\x00"), (0x31, b"\x05\x00"), (0x24, b"\x04\x01a")],
    ids=["sequence", "set", "constructed-octet-string"],
)
def test_deeply_nested_der(pki: Pki, tag: int, innermost: bytes) -> None:
    ctx = pki.context(pki.ca.dump())
    deep = _nested(tag, 10_000, innermost)
    input_error(bounded(lambda: api.verify(deep, ctx)))
    # the same nesting inside a genuinely signed certificate (an attribute of unknown type in the subject)
    value = core.Any.load(_nested(tag, 5_000, innermost))
    subject = x509.Name(
        name="",
        value=x509.RDNSequence(
            [x509.RelativeDistinguishedName([x509.NameTypeAndValue({"type": "1.2.3.4.5", "value": value})])]
        ),
    )
    cert = pki.issue(40, subject=subject)
    for outcome in (
        bounded(lambda: api.verify(cert.dump(), ctx)),
        bounded(lambda: context.load_certificates(cert.dump(), "certificate")),
    ):
        if not isinstance(outcome, list):
            not_passed(outcome)


@pytest.mark.parametrize(
    "data",
    [
        b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 16,
        b"\x30\x88" + (2**63).to_bytes(8, "big") + b"\x00" * 16,
        b"\x30\x89" + b"\xff" * 9 + b"\x00" * 16,
        b"\x30\xff" + b"\x00" * 300,
        b"\x30\x80" + b"\x30\x80" * 1000,
    ],
    ids=["4-gib", "2^63", "9-length-octets", "127-length-octets", "indefinite-nested"],
)
def test_overlong_der_lengths(pki: Pki, data: bytes) -> None:
    ctx = pki.context(pki.ca.dump())
    input_error(bounded(lambda: api.verify(data, ctx)))
    input_error(bounded(lambda: pki.context(data)))


def test_overlong_length_inside_a_real_certificate(pki: Pki) -> None:
    der = bytearray(pki.leaf.dump())
    assert der[4] == 0x30  # tbsCertificate
    for claim in (b"\x84\xff\xff\xff\xff", b"\x88" + b"\x7f" + b"\xff" * 7):
        forged = bytes(der[:5]) + claim + bytes(der[5 + 1 + (der[5] & 0x7F) :])
        input_error(bounded(partial(api.verify, forged, pki.context(pki.ca.dump()))))


# --- PEM with many blocks ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_pem_with_thousands_of_blocks(pki: Pki, tmp_path: Path) -> None:
    block = cx.certificate_pem(pki.ca)
    too_many = block * (limits.MAX_PEM_BLOCKS + 1)
    input_error(bounded(lambda: pki.context(too_many)), Code.INPUT_TOO_LARGE)
    many = block * (limits.MAX_PEM_BLOCKS // 2)  # duplicates are fine (and merged)
    ctx = bounded(lambda: pki.context(many))
    assert isinstance(ctx, VerificationContext) and len(ctx.intermediates) == 1
    assert report(bounded(lambda: verify_certificate(pki.leaf, ctx))).passed
    tiny = b"-----BEGIN X-----\n-----END X-----\n" * 100_000  # blocks of another type still count
    input_error(bounded(lambda: pki.context(tiny)), Code.INPUT_TOO_LARGE)
    input_error(bounded(lambda: api.verify(cx.certificate_pem(pki.leaf) * 5_000, pki.context(pki.ca.dump()))))
    (tmp_path / "root.pem").write_bytes(cx.certificate_pem(pki.root))
    (tmp_path / "leaf.pem").write_bytes(cx.certificate_pem(pki.leaf))
    (tmp_path / "pile.pem").write_bytes(too_many)
    result = trust_verify(["leaf.pem", "--anchor", "root.pem", "--untrusted", "pile.pem"], tmp_path)
    assert result.returncode == 3 and b"PEM blocks" in result.stderr, result.stderr
