#!/usr/bin/env python3
"""Signature throughput of Huren's crypto layer against ``openssl speed`` (and pure-Python gmssl for SM2).

    .venv/bin/python bench/crypto.py [--seconds S] [--rounds R] [--quick] [--only sm2,rsa,ecdsa,gmssl]
                                     [--clock cpu|wall]

Prints one JSON object per line on stdout::

    {"bench": "sm2-sign", "ours": X, "baseline": "openssl speed sm2", "baseline_value": Y,
     "ratio": X / Y, "unit": "ops/s"}

``ratio`` > 1 means Huren is faster. Progress, tool versions and every per-round sample go to stderr.

Method: for each group the two sides are measured in alternation (ours, baseline, ours, baseline, ...) for
``--rounds`` rounds, each operation for ``--seconds`` seconds on one thread, and the *median* of each side's
rounds is reported, so one noisy round on a shared machine cannot make either side look better. Like
``openssl speed``, ours signs a short message (32 bytes) with a fixed key and verifies one fixed signature.
See bench/README.md for what each line compares.

Both sides run on the same clock (issue 15 item 7): ``--clock cpu`` (the default) counts this process's CPU time
for ours, as ``openssl speed`` counts its own CPU time by default; ``--clock wall`` counts elapsed time for ours
and runs ``openssl speed -elapsed``. (Before, ours was timed by the wall clock against OpenSSL's CPU time, so a busy
machine lowered our side only: ratios of 0.2-0.4 under load.)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version

MESSAGE = bytes(range(32))  # openssl speed signs 20 (EC) / 36 (RSA) bytes of random data; we sign 32

# openssl speed (3.x) result rows: "<label>  <sign time>s <verify time>s <sign/s> <verify/s>"
_ROW = re.compile(r"^\s*(?P<label>\S.*?)\s+[\d.]+s\s+[\d.]+s\s+(?P<sign>[\d.]+)\s+(?P<verify>[\d.]+)\s*$")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.process_time, "wall": time.perf_counter}
_clock: Callable[[], float] = time.process_time
_elapsed = False  # openssl speed -elapsed (wall clock) instead of its default CPU time


def set_clock(name: str) -> None:
    """``cpu``: this process's CPU time for ours, ``openssl speed``'s default CPU time for it; ``wall``: elapsed
    time for both (``openssl speed -elapsed``)."""
    global _clock, _elapsed
    _clock, _elapsed = CLOCKS[name], name == "wall"


def rate(operation: Callable[[], object], seconds: float) -> float:
    """Operations per second of ``operation`` run back to back for ``seconds`` of the clock (after one warm-up
    call)."""
    operation()
    count = 0
    start = _clock()
    deadline = start + seconds
    while True:
        operation()
        count += 1
        now = _clock()
        if now >= deadline:
            return count / (now - start)


def openssl_speed(openssl: str, seconds: int, algorithms: list[str], labels: dict[str, str]) -> dict[str, float]:
    """Run ``openssl speed -seconds S <algorithms>`` (``-elapsed`` with the wall clock) and return
    ``{"<key>-sign": ops/s, "<key>-verify": ...}``.

    ``labels`` maps a key (e.g. ``sm2``) to the row label printed by OpenSSL (``256 bits SM2 (CurveSM2)``).
    """
    elapsed = ["-elapsed"] if _elapsed else []
    proc = subprocess.run(
        [openssl, "speed", *elapsed, "-seconds", str(seconds), *algorithms], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"openssl speed {' '.join(algorithms)} failed:\n{proc.stderr}")
    if "sign/s verify/s" not in proc.stdout:
        raise RuntimeError(f"unexpected openssl speed output (no 'sign/s verify/s' header):\n{proc.stdout}")
    rows = {}
    for line in proc.stdout.splitlines():
        match = _ROW.match(line)
        if match:
            rows[" ".join(match["label"].split())] = (float(match["sign"]), float(match["verify"]))
    result = {}
    for key, label in labels.items():
        if label not in rows:
            raise RuntimeError(f"openssl speed printed no row {label!r}; rows: {sorted(rows)}\n{proc.stdout}")
        result[f"{key}-sign"], result[f"{key}-verify"] = rows[label]
    return result


@dataclass
class Bench:
    name: str
    ours: Callable[[], object]
    samples_ours: list[float] = field(default_factory=list)
    samples_baseline: list[float] = field(default_factory=list)


@dataclass
class Group:
    """Benches measured together against one baseline run per round."""

    baseline_name: str
    benches: list[Bench]
    baseline: Callable[[], dict[str, float]]

    def run(self, rounds: int, seconds: float) -> None:
        for index in range(rounds):
            for bench in self.benches:
                bench.samples_ours.append(rate(bench.ours, seconds))
            results = self.baseline()
            for bench in self.benches:
                bench.samples_baseline.append(results[bench.name])
            for bench in self.benches:
                log(
                    f"  round {index + 1}/{rounds} {bench.name}: ours {bench.samples_ours[-1]:.1f}, "
                    f"{self.baseline_name} {bench.samples_baseline[-1]:.1f} ops/s"
                )

    def emit(self) -> None:
        for bench in self.benches:
            ours = statistics.median(bench.samples_ours)
            baseline = statistics.median(bench.samples_baseline)
            line = {
                "bench": bench.name,
                "ours": round(ours, 1),
                "baseline": self.baseline_name,
                "baseline_value": round(baseline, 1),
                "ratio": round(ours / baseline, 3),
                "unit": "ops/s",
            }
            print(json.dumps(line), flush=True)


def sign_verify(spec: str, prefix: str) -> list[Bench]:
    from trust.crypto.keys import generate_private_key

    key = generate_private_key(spec)
    public = key.public_key
    signature = key.sign(MESSAGE)
    public.verify(signature, MESSAGE)  # the benchmark must measure a *successful* verification
    return [
        Bench(f"{prefix}-sign", lambda: key.sign(MESSAGE)),
        Bench(f"{prefix}-verify", lambda: public.verify(signature, MESSAGE)),
    ]


def openssl_groups(openssl: str, seconds: int, only: set[str]) -> list[Group]:
    groups = []
    if "sm2" in only:
        groups.append(
            Group(
                "openssl speed sm2",
                sign_verify("sm2", "sm2"),
                lambda: openssl_speed(openssl, seconds, ["sm2"], {"sm2": "256 bits SM2 (CurveSM2)"}),
            )
        )
    if "rsa" in only:
        groups.append(
            Group(
                "openssl speed rsa2048 rsa3072",
                sign_verify("rsa-2048", "rsa2048") + sign_verify("rsa-3072", "rsa3072"),
                lambda: openssl_speed(
                    openssl,
                    seconds,
                    ["rsa2048", "rsa3072"],
                    {"rsa2048": "rsa 2048 bits", "rsa3072": "rsa 3072 bits"},
                ),
            )
        )
    if "ecdsa" in only:
        groups.append(
            Group(
                "openssl speed ecdsap256",
                sign_verify("ec-p256", "ecdsa-p256"),
                lambda: openssl_speed(openssl, seconds, ["ecdsap256"], {"ecdsa-p256": "256 bits ecdsa (nistp256)"}),
            )
        )
    return groups


def gmssl_group(seconds: float) -> Group:
    """Ours against gmssl's pure-Python SM2 on one key (default user ID, as gmssl's *_with_sm3 use)."""
    import secrets

    from gmssl import sm2 as gm_sm2

    from trust.crypto import keys, sm2

    # gmssl needs the private scalar, and our keys never export it unencrypted: choose a scalar here and
    # import it on both sides. gmssl wants hex x || y; its str.lstrip("04") would also eat a leading "04"
    # of x itself, so redraw that (1 in 256) key.
    while True:
        d = secrets.randbelow(sm2.SM2P256V1.n - 2) + 1
        ours = keys.SM2PrivateKey(sm2.SM2PrivateKey.from_scalar(d))
        xy = f"{ours.public_key.raw.x:064x}{ours.public_key.raw.y:064x}"
        if not xy.startswith("04"):
            break
    gm = gm_sm2.CryptSM2(private_key=f"{d:064x}", public_key=xy, mode=1)
    public = ours.public_key
    our_sig = ours.sign(MESSAGE)
    public.verify(our_sig, MESSAGE)
    gm_sig = gm.sign_with_sm3(MESSAGE)
    if gm_sig is None or not gm.verify_with_sm3(gm_sig, MESSAGE):
        raise RuntimeError("gmssl could not sign and verify with the benchmark key")
    public.verify(bytes.fromhex(gm_sig), MESSAGE, encoding="raw")  # both sides work on the same key pair

    benches = [
        Bench("sm2-sign", lambda: ours.sign(MESSAGE)),
        Bench("sm2-verify", lambda: public.verify(our_sig, MESSAGE)),
    ]

    def baseline() -> dict[str, float]:
        return {
            "sm2-sign": rate(lambda: gm.sign_with_sm3(MESSAGE), seconds),
            "sm2-verify": rate(lambda: gm.verify_with_sm3(gm_sig, MESSAGE), seconds),
        }

    return Group(f"gmssl {version('gmssl')}", benches, baseline)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=2, help="seconds per operation and round (default 2)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median is reported (3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 1 second, 1 round")
    parser.add_argument(
        "--only", default="sm2,rsa,ecdsa,gmssl", help="comma-separated groups: sm2, rsa, ecdsa, gmssl (all)"
    )
    parser.add_argument(
        "--clock",
        choices=tuple(CLOCKS),
        default="cpu",
        help="cpu (default): CPU time on both sides; wall: elapsed time on both (openssl speed -elapsed)",
    )
    args = parser.parse_args(argv)
    set_clock(args.clock)
    seconds, rounds = (1, 1) if args.quick else (args.seconds, args.rounds)
    if seconds < 1 or rounds < 1:
        parser.error("--seconds and --rounds must be at least 1 (openssl speed counts whole seconds)")
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = only - {"sm2", "rsa", "ecdsa", "gmssl"}
    if unknown:
        parser.error(f"unknown group(s): {', '.join(sorted(unknown))}")

    openssl = shutil.which("openssl")
    if openssl is None and only - {"gmssl"}:
        parser.error("the openssl command is needed for the sm2, rsa and ecdsa groups")

    from cryptography.hazmat.backends.openssl.backend import backend

    from trust.crypto import _openssl

    if openssl:
        cli = subprocess.run([openssl, "version"], capture_output=True, text=True, check=False).stdout.strip()
        log(f"baseline CLI: {cli}")
    log(f"ours, SM2: trust.crypto on {_openssl.version()} (ctypes)")
    log(f"ours, RSA/ECDSA: pyca/cryptography {version('cryptography')} on {backend.openssl_version_text()}")
    log(f"{rounds} round(s) x {seconds} s per operation, alternating ours/baseline; medians reported")
    log(f"clock: {args.clock} on both sides" + (" (openssl speed -elapsed)" if args.clock == "wall" else ""))

    groups = openssl_groups(openssl, seconds, only) if openssl else []
    if "gmssl" in only:
        groups.append(gmssl_group(seconds))
    for group in groups:
        log(f"{', '.join(b.name for b in group.benches)} vs {group.baseline_name}")
        group.run(rounds, seconds)
        group.emit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
