"""Hostile PDFs: the qpdf malformed-file corpus, and deterministic mutations of a sealed PDF.

``tests/data/vendor/qpdf-malformed/`` (qpdf's test suite and fuzz corpus; README: "no verdict: reading must end with
a clear error or a result within bounded time and memory, never a crash or a hang, and never a report that a
signature is valid"). Every file goes through :func:`verifier.api.verify` in a worker process that has an address
space limit (``RLIMIT_AS``, :data:`MEMORY_LIMIT`); a file that takes longer than :data:`TIME_LIMIT` seconds is a
hang (its worker is killed and replaced). Two workers share the files (the test machines have two cores).

Each file must end as a :class:`~trust.crypto.errors.TrustError` of an input category (malformed, too large,
unsupported) or as a report; no report and no signature report of it may be TOTAL_PASSED. Any other exception is a
crash; running out of the memory limit counts as a failure too (sizes must be bounded before work is done).

The mutation test applies the same harness to a PDF sealed by the product: single-byte changes (XOR 1) spread over
the whole file and concentrated on the signature dictionary, its CMS and the cross-reference data, and
truncations. None of them may verify, and none may crash or hang the verifier.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import queue
import resource
import time
import traceback
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import TESTDATA
from tests.support import pdfs

TIME_LIMIT: Final = 10.0
"""Seconds one input may take (the slowest corpus file takes well under one)."""
MEMORY_LIMIT: Final = 1024 * 1024 * 1024
"""Address space of a worker (an idle worker with the verifier loaded uses about 100 MB)."""
WORKERS: Final = 2
CORPUS: Final = TESTDATA / "qpdf-malformed"
INPUT_CATEGORIES: Final = frozenset({"input", "indeterminate"})


@dataclass(frozen=True)
class Outcome:
    name: str
    kind: str  # report | error | crash | memory | hang
    detail: str
    seconds: float
    passed: bool = False  # a report (or one of its signature reports) said TOTAL_PASSED


def _worker(number: int, tasks: Any, results: Any, bundle: bytes | None, pins: list[str]) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    from trust.crypto.errors import TrustError
    from verifier import api, context

    ctx = context.build(bundle=bundle, pins=pins, environ={})
    results.put(("ready", number, None, 0.0))
    while True:
        task = tasks.get()
        if task is None:
            return
        name, path = task
        start = time.perf_counter()
        try:
            report = api.verify(Path(path).read_bytes(), ctx)
            passed = report.passed or any(child.passed for child in report.children if child.kind.startswith("pdf"))
            outcome = ("report", f"{report.indication.value} {report.errors[0][:160] if report.errors else ''}", passed)
        except TrustError as exc:
            outcome = ("error", f"{exc.code.category.value} {exc.code.slug}: {exc.message[:160]}", False)
        except MemoryError:
            outcome = ("memory", "MemoryError", False)
        except BaseException as exc:
            outcome = ("crash", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}", False)
        results.put(("done", number, (name, *outcome), time.perf_counter() - start))


class _Pool:
    """Worker processes that verify files, each bounded in time and memory; a worker that overruns is killed (by
    its own process handle) and replaced."""

    def __init__(self, bundle: bytes | None = None, pins: list[str] | None = None) -> None:
        self._mp = multiprocessing.get_context("spawn")
        self._args = (bundle, pins or [])
        self._results = self._mp.Queue()
        self._started = 0

    def _start(self) -> tuple[int, Any, Any]:
        """A new worker, once it has loaded the verifier (start-up time is not verification time)."""
        self._started += 1
        number = self._started
        tasks = self._mp.Queue()
        process = self._mp.Process(target=_worker, args=(number, tasks, self._results, *self._args), daemon=True)
        process.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                message = self._results.get(timeout=0.5)
            except queue.Empty:
                if not process.is_alive():
                    break
                continue
            if message[0] == "ready" and message[1] == number:
                return number, process, tasks
            self._early.append(message)
        raise RuntimeError(f"verifier worker {number} did not start (exit code {process.exitcode})")

    def run(self, inputs: list[tuple[str, Path]]) -> list[Outcome]:
        self._early: list[Any] = []
        pending = list(reversed(inputs))
        workers = [self._start() for _ in range(WORKERS)]
        busy: dict[int, tuple[str, float]] = {}  # worker slot -> (input name, deadline)
        outcomes: list[Outcome] = []
        try:
            while pending or busy:
                for slot, (_number, _process, tasks) in enumerate(workers):
                    if slot not in busy and pending:
                        name, path = pending.pop()
                        busy[slot] = (name, time.monotonic() + TIME_LIMIT)
                        tasks.put((name, str(path)))
                try:
                    message = self._early.pop() if self._early else self._results.get(timeout=0.1)
                except queue.Empty:
                    message = None
                if message is not None and message[0] == "done":
                    _tag, number, (name, kind, detail, passed), seconds = message
                    outcomes.append(Outcome(name, kind, detail, seconds, passed))
                    for slot, (worker_number, _process, _tasks) in enumerate(workers):
                        if worker_number == number:
                            busy.pop(slot, None)
                now = time.monotonic()
                for slot, (name, deadline) in list(busy.items()):
                    _number, process, _tasks = workers[slot]
                    if now > deadline or not process.is_alive():
                        overdue = now > deadline
                        process.kill()
                        process.join()
                        outcomes.append(
                            Outcome(
                                name,
                                "hang" if overdue else "crash",
                                f"killed after {TIME_LIMIT}s"
                                if overdue
                                else f"worker died (exit code {process.exitcode})",
                                now - deadline + TIME_LIMIT,
                            )
                        )
                        del busy[slot]
                        workers[slot] = self._start()
        finally:
            for _number, _process, tasks in workers:
                tasks.put(None)
            for _number, process, _tasks in workers:
                process.join(timeout=5)
                if process.is_alive():
                    process.kill()
        return outcomes


def _judge(outcomes: list[Outcome], expected: int) -> tuple[Counter[str], float]:
    assert len(outcomes) == expected
    kinds = Counter(o.kind for o in outcomes)
    crashes = [f"{o.name}: {o.detail}" for o in outcomes if o.kind in ("crash", "memory")]
    hangs = [o.name for o in outcomes if o.kind == "hang"]
    slow = [f"{o.name}: {o.seconds:.1f}s" for o in outcomes if o.seconds > TIME_LIMIT]
    vague = [
        f"{o.name}: {o.detail}"
        for o in outcomes
        if o.kind == "error" and o.detail.split(" ", 1)[0] not in INPUT_CATEGORIES
    ]
    valid = [o.name for o in outcomes if o.passed]
    assert not crashes, "\n".join(crashes[:10])
    assert not hangs and not slow, hangs + slow
    assert not vague, "\n".join(vague[:10])
    assert not valid, valid
    return kinds, max(o.seconds for o in outcomes)


def test_qpdf_malformed_corpus_never_crashes_hangs_or_verifies() -> None:
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file())
    assert len(files) > 150, f"the qpdf corpus is missing or incomplete at {CORPUS}"
    started = time.monotonic()
    outcomes = _Pool().run([(str(p.relative_to(CORPUS)), p) for p in files])
    kinds, slowest = _judge(outcomes, len(files))
    # Both paths are exercised: most files are refused as unreadable, the rest read and carry no valid signature.
    assert kinds["error"] > 50 and kinds["report"] > 10, kinds
    print(
        f"\nqpdf-malformed: {len(files)} files, {kinds['error']} input errors, {kinds['report']} reports, "
        f"slowest {slowest:.2f}s, {time.monotonic() - started:.1f}s in all"
    )


def _mutations(sealed: bytes) -> list[tuple[str, bytes, bool]]:
    """Deterministic single-byte changes (XOR 1) and truncations of ``sealed``: ``(name, data, must_fail)``.

    ``must_fail`` marks a change inside the bytes the signature covers, or a cut before the end of the signed
    revision. Other changes may legitimately keep the document valid — a later revision (the DSS of B-LT) is not
    signed, nor are the CMS's ``certificates`` and ``digestAlgorithms`` — so for them only "no crash, no hang" holds."""
    start1, length1, start2, length2 = pdfs.byte_ranges(sealed)[0]
    covered_end = start2 + length2
    numbers = pdfs.object_numbers(sealed)
    signature_at = sealed.rindex(b"%d 0 obj" % numbers["sig"])
    xref_at = pdfs.startxref(sealed)
    positions: set[int] = set()
    positions.update(range(0, len(sealed), max(1, len(sealed) // 30)))  # everywhere
    positions.update(range(signature_at, signature_at + 30))  # signature dictionary header and /Contents key
    positions.update(range(length1, length1 + 160, 6))  # the CMS's first bytes (hex digits): DER headers
    positions.update(range(start2, start2 + 120, 4))  # /ByteRange, /Type, /SubFilter, /M
    positions.update(range(covered_end - 120, covered_end, 6))  # the signed revision's xref, trailer, %%EOF
    positions.update(range(xref_at, min(len(sealed), xref_at + 120), 8))  # the last revision's xref and trailer
    mutants = [
        (
            f"flip@{p}",
            sealed[:p] + bytes([sealed[p] ^ 0x01]) + sealed[p + 1 :],
            start1 <= p < start1 + length1 or start2 <= p < covered_end,
        )
        for p in sorted(positions)
    ]
    for cut in (10, 1000, length1, length1 + 1, start2 - 1, start2 + 1, covered_end - 1, xref_at, len(sealed) - 7):
        mutants.append((f"truncate@{cut}", sealed[:cut], cut < covered_end))
    return mutants


def test_mutated_sealed_pdf_never_crashes_hangs_or_verifies(tmp_path: Path) -> None:
    sealing = pdfs.sealing_world(tmp_path / "world")
    sealed = sealing.seal(pdfs.base_pdf(1), level="B-LT")
    bundle, pins = sealing.bundle()
    mutants = _mutations(sealed)
    inputs = []
    for name, data, _must_fail in [("original", sealed, False), *mutants]:
        path = tmp_path / f"{name}.pdf"
        path.write_bytes(data)
        inputs.append((name, path))
    outcomes = {o.name: o for o in _Pool(bundle, pins).run(inputs)}
    original = outcomes.pop("original")
    assert original.kind == "report" and original.passed, original.detail  # the control verifies
    signed = {name for name, _data, must_fail in mutants if must_fail}
    assert len(signed) > len(mutants) // 2
    kinds, slowest = _judge([o for name, o in outcomes.items() if name in signed], len(signed))
    others = [o for name, o in outcomes.items() if name not in signed]
    _kinds_other, slowest_other = _judge([dataclasses.replace(o, passed=False) for o in others], len(others))
    assert kinds["report"] > len(signed) // 2, kinds  # most are read and judged, not just refused
    print(
        f"\nmutations: {len(signed)} of signed bytes ({kinds['error']} input errors, {kinds['report']} failing "
        f"reports), {len(others)} elsewhere ({sum(o.passed for o in others)} still valid), slowest "
        f"{max(slowest, slowest_other):.2f}s"
    )


@pytest.mark.parametrize("data", [b"%PDF-1.7\n", b"%PDF-" + b"[" * 100_000, b"%PDF-1.4\n" + b"\x00" * 4096])
def test_degenerate_inputs_are_input_errors(data: bytes) -> None:
    from trust.crypto.errors import EncodingError
    from verifier import api, context

    with pytest.raises(EncodingError, match="not a readable PDF"):
        api.verify(data, context.build(environ={}))


def test_oversized_input_is_refused_before_reading() -> None:
    from trust.crypto.errors import Code, InputError
    from verifier import context
    from verifier.pdf import verify as pdf

    with pytest.raises(InputError) as info:
        pdf.verify_pdf(b"%PDF-1.7\n" + b" " * pdf.MAX_PDF_BYTES, context.build(environ={}))
    assert info.value.code is Code.INPUT_TOO_LARGE


# --- the linear-time string readers (verifier.pdf.strings) behave exactly like pyHanko's -----------------------------


def _outcome(reader, data: bytes):
    from verifier.pdf.strings import LinearStream

    stream = LinearStream(data)  # the stream the linear readers read (others go to pyHanko's own code)
    try:
        value = reader(stream)
    except Exception as exc:  # the exception type is the behaviour being compared
        return "error", type(exc).__name__
    if not isinstance(value, bytes):
        value = (type(value).__name__, bytes(value.original_bytes))
    return "value", value, stream.tell()


@given(
    body=st.binary(max_size=40)
    | st.lists(
        st.sampled_from(
            [b"(", b")", b"\\", b"n", b"r", b"t", b"b", b"f", b"0", b"7", b"8", b"\n", b"\r", b" ", b"a", b"%", b">"]
        ),
        max_size=40,
    ).map(b"".join)
)
@settings(max_examples=1500, deadline=None)
def test_literal_string_reader_matches_pyhanko(body: bytes) -> None:
    from verifier.pdf import strings as pdf_strings

    _hex, original = pdf_strings.originals()
    data = b"(" + body
    assert _outcome(pdf_strings.read_string_literal_bytes, data) == _outcome(original, data)


@given(
    body=st.binary(max_size=40)
    | st.lists(
        st.sampled_from([b"0", b"9", b"a", b"F", b"g", b" ", b"\n", b"\x00", b"%", b">", b"<"]), max_size=40
    ).map(b"".join)
)
@settings(max_examples=1500, deadline=None)
def test_hex_string_reader_matches_pyhanko(body: bytes) -> None:
    from verifier.pdf import strings as pdf_strings

    original, _literal = pdf_strings.originals()
    data = b"<" + body
    assert _outcome(pdf_strings.read_hex_string_from_stream, data) == _outcome(original, data)


def test_string_readers_are_installed_and_linear() -> None:

    from pyhanko.pdf_utils import generic

    from verifier.pdf import document as pdf_document
    from verifier.pdf import strings as pdf_strings

    assert pdf_document is not None and pdf_strings.applied()  # importing the PDF reader applied the scoped patch
    assert generic.read_hex_string_from_stream is pdf_strings.read_hex_string_from_stream
    started = time.process_time()  # CPU time: a loaded machine does not fail the bound
    value = generic.read_hex_string_from_stream(pdf_strings.LinearStream(b"<" + b"3082" * 2_000_000 + b">"))
    assert len(value.original_bytes) == 4_000_000
    assert time.process_time() - started < 4.0  # ~0.5 s here; pyHanko's own reader needs about 16 s for these 8 MB
