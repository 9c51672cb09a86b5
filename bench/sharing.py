#!/usr/bin/env python3
"""Licence sharing (issue 21): national directory lookups with many licences indexed, and retrievals end to end.

    .venv/bin/python bench/sharing.py [--seconds S] [--rounds R] [--quick] [--clock cpu] [--size N]
                                      [--only lookups,retrievals] [--postgres URL] [--concurrency C]

Prints one JSON object per line on stdout::

    {"bench": "directory-lookup-1000000", "ours": X, "baseline": "the same with 10^3 indexed",
     "baseline_value": Y, "ratio": X / Y, "unit": "lookups/s"}

``directory-lookup-N``: :func:`trust.service.sharing.directory.find` (one indexed query on the keyed holder hash and
the type, on SQLite) for a random holder among N indexed licences (``--size``, default 10^6; ``--quick`` 10^5),
against the same lookup with 10^3 indexed. Flat cost (ratio near 1.0) is the claim: the lookup is a B-tree
probe, O(log N). The HMAC of the holder code is computed per lookup on both sides. Setup is a bulk insert
(SQLAlchemy ``insert`` of 20,000 rows a statement).

``sharing-retrievals-2w``: licence retrievals per second end to end — ``POST /sharing/licenses/{identifier}`` by 广东's
platform (an access token) for its relying service, under the holder's consent: requester standing, rate limit and
quota (counted in ``sharing_access``), consent, the issuer's standing, a fresh SD-JWT signed by the 浙江 issuer (SM2)
with the consented disclosures, two access rows and two audit entries — by ``--concurrency`` clients against ``trust
serve --workers 2`` on PostgreSQL (``--postgres``, a scratch database named ``sharing3_bench_…``); baseline the same on
1 worker. Consents are written straight into ``sharing_consent`` (a consent needs a citizen's federation login; its
cost is the identity bench's). Skipped with a note when PostgreSQL does not answer.

Progress and every per-round sample go to stderr. Method: bench/README.md; figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import insert
from sqlalchemy.engine import Engine

from bench import _servers as servers
from bench._harness import Bench, log, timing, timing_arguments
from trust import db
from trust.service.sharing import directory
from trust.service.sharing.models import DirectoryEntry

REPO = Path(__file__).resolve().parent.parent
TYPE = "11100000000013338W104"
KEY = b"bench directory key, 32 bytes.."


def build(path: Path, size: int) -> tuple[Engine, list[str]]:
    engine = db.make_engine(f"sqlite:///{path}")
    db.upgrade(engine)
    moment = datetime.now(UTC)
    batch = 20_000
    for start in range(0, size, batch):
        rows = [
            {
                "identifier": f"{TYPE}-{n:010d}",
                "type_code": TYPE,
                "issuer_id": "330000-bench-sm2",
                "region": "330000",
                "holder_key": directory.holder_key(KEY, f"H{n:017d}"),
                "valid_from": moment,
                "valid_until": None,
                "status": "valid",
                "source": "issued",
                "location": f"https://huren.example/sharing/licenses/{n}",
                "updated_at": moment,
            }
            for n in range(start, min(size, start + batch))
        ]
        with db.session_scope(engine) as session:
            session.execute(insert(DirectoryEntry), rows)
        log(f"  indexed {min(size, start + batch)}/{size}")
    return engine, [f"H{n:017d}" for n in random.Random(7).sample(range(size), 1000)]


def lookup_benches(size: int, seconds: float, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        big, big_codes = build(Path(tmp) / "big.db", size)
        small, small_codes = build(Path(tmp) / "small.db", 1000)

        def lookup(engine: Engine, codes: list[str]) -> Callable[[], object]:
            state = {"i": 0}

            def run() -> object:
                state["i"] = (state["i"] + 1) % len(codes)
                with db.session_scope(engine, read_only=True) as session:
                    found = directory.find(session, directory.holder_key(KEY, codes[state["i"]]), TYPE)
                assert len(found) == 1
                return found

            return run

        bench = Bench(
            f"directory-lookup-{size}",
            lookup(big, big_codes),
            "the same with 10^3 indexed",
            lookup(small, small_codes),
            unit="lookups/s",
        )
        bench.run(rounds, seconds)
        bench.emit(indexed=size)


# --- retrievals end to end ----------------------------------------------------------------------------------------

PASSPHRASE = "bench passphrase, not secret"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BIRTH = "11100000000013338W104"


@dataclass
class Site:
    url: str
    requester: str
    identifiers: list[str]
    consents: dict[str, str]  # identifier -> consent id
    client_key: Any
    client_certificate: Any


def build_site(home: Path, port: int, database_url: str, licences: int) -> Site:
    """Roots and the 浙江/广东 CAs, the federation (浙江 OP, a 广东 service), 浙江's birth-certificate issuer and
    ``licences`` licences of as many citizens, each with a consent for the 广东 service; 广东's platform client."""
    from datetime import timedelta

    from licenses import samples
    from trust.crypto.keys import generate_private_key
    from trust.formats import csr
    from trust.formats import x509 as cx
    from trust.formats.names import DN, make_uscc
    from trust.service import ca as ca_service
    from trust.service import clients, licenses
    from trust.service.demo import _citizen_id
    from trust.service.identity import anchor
    from trust.service.instance import Instance
    from trust.service.sharing import directory
    from trust.service.sharing.models import Consent
    from trust.settings import Settings

    settings = Settings(home=home, database_url=database_url, public_url=f"http://127.0.0.1:{port}", port=port,
                        key_kdf_iterations=2000)  # fmt: skip
    instance = Instance(settings, passphrase=PASSPHRASE.encode())
    instance.prepare_storage()
    ca_service.init(instance)
    for code in ("330000", "440000"):
        ca_service.enrol(instance, kind="region", code=code, family="SM2")
    anchor.init(instance)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    requester = anchor.register(instance, kind=anchor.KIND_RP, region_code="440000", name="广东政务服务",
                                slug="gd-service").id  # fmt: skip
    issuer = licenses.register_issuer(
        instance, ca_id="region-330000-sm2", name="浙江省卫生健康委员会", code=make_uscc("11330000002482227"),
        license_types=[BIRTH],
    )  # fmt: skip
    clients.add_client(instance, client_id="gd-platform", kind="region", name="广东平台", region="440000")
    key = generate_private_key("sm2")
    der = clients.issue_credential(
        instance, client_id="gd-platform", csr_der=csr.build(key, DN(common_name="gd-platform")), family="SM2"
    )
    holder_key = directory.directory_key(instance)
    identifiers: list[str] = []
    consents: dict[str, str] = {}
    fields = samples.sample(BIRTH)
    for n in range(licences):
        citizen = _citizen_id(f"33010619900102{n:03d}")
        made = licenses.issue(instance, issuer_id=issuer.id, type_code=BIRTH, fields=fields, holder_code=citizen)
        identifier = made.record.identifier
        consent_id = secrets.token_hex(16)
        with db.session_scope(instance.engine) as session:
            session.add(
                Consent(
                    id=consent_id, holder_key=directory.holder_key(holder_key, citizen), requester=requester,
                    license_types=json.dumps([BIRTH]), fields=json.dumps(["newborn_name", "sex"]), purpose="基准",
                    op_id="bench", expires_at=datetime.now(UTC) + timedelta(days=7),
                )
            )  # fmt: skip
        identifiers.append(identifier)
        consents[identifier] = consent_id
    return Site(f"http://127.0.0.1:{port}", requester, identifiers, consents, key, cx.load_certificate(der))


def access_token(site: Site) -> str:
    import httpx

    from trust.service import clients

    assertion = clients.make_assertion(
        site.client_key, site.client_certificate, client_id="gd-platform", audience=f"{site.url}/oauth/token"
    )
    response = httpx.post(
        f"{site.url}/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": clients.ASSERTION_TYPE,
            "client_assertion": assertion,
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


async def _retrievals(site: Site, token: str, seconds: float, concurrency: int) -> float:
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=site.url, timeout=60, headers=headers) as client:

        async def one(n: int) -> None:
            identifier = site.identifiers[n % len(site.identifiers)]
            answer = await client.post(
                f"/sharing/licenses/{identifier}",
                json={"requester": site.requester, "purpose": "基准", "consent_id": site.consents[identifier]},
            )
            if answer.status_code != 200 or answer.json()["disclosed"] != ["newborn_name", "sex"]:
                raise RuntimeError(f"retrieval answered {answer.status_code}: {answer.text[:300]}")

        return await servers.load(seconds, concurrency, one)


def retrieval_benches(seconds: float, rounds: int, postgres: str, concurrency: int, licences: int) -> None:
    from tests.support.server import free_port

    try:
        context = servers.scratch_database(postgres, prefix="sharing3_bench")
        database_url = context.__enter__()
    except Exception as exc:  # PostgreSQL is optional for this benchmark
        log(f"sharing-retrievals: skipped, PostgreSQL does not answer ({type(exc).__name__}: {exc})")
        return
    try:
        with tempfile.TemporaryDirectory(prefix="huren-bench-sharing-") as tmp:
            home, port = Path(tmp) / "home", free_port()
            log(f"  building the three regions and {licences} consented licences ...")
            site = build_site(home, port, database_url, licences)
            env = {
                "TRUST_KEY_PASSPHRASE": PASSPHRASE, "TRUST_KEY_KDF_ITERATIONS": "2000", "TRUST_RATE_LIMIT": "0",
                "TRUST_ANONYMOUS_RATE_LIMIT": "0", "TRUST_DATABASE_URL": database_url, "TRUST_REFRESH_SECONDS": "0",
                # counted as usual (one indexed count per request), set high enough not to refuse the benchmark
                "TRUST_SHARING_RATE_LIMIT": "100000000", "TRUST_SHARING_DAILY_QUOTA": "1000000000",
            }  # fmt: skip
            token: list[str] = []

            @contextmanager
            def server(workers: int) -> Iterator[None]:
                with servers.serve(home, port, workers, Path(tmp) / f"serve-{workers}.log", env, ready_path="/readyz"):
                    token[:] = [access_token(site)]
                    yield

            servers.two_workers_against_one(
                "sharing-retrievals-2w", "retrievals",
                server, lambda s: asyncio.run(_retrievals(site, token[0], s, concurrency)),
                seconds=seconds, rounds=rounds, log=log, concurrency=concurrency, licences=licences, storage="postgres",
            )  # fmt: skip
    finally:
        context.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    timing_arguments(parser, 3.0)
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--only", default="lookups,retrievals", help="lookups, retrievals (comma-separated)")
    parser.add_argument("--postgres", default=os.environ.get("HUREN_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--licences", type=int, default=64, help="licences (and consents) the retrievals cycle over")
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    only = set(args.only.split(","))
    if "lookups" in only:
        lookup_benches(100_000 if args.quick and args.size == 1_000_000 else args.size, seconds, rounds)
    if "retrievals" in only:
        licences = 16 if args.quick else args.licences
        retrieval_benches(max(seconds, 3.0), rounds, args.postgres, args.concurrency, licences)


if __name__ == "__main__":
    main()
