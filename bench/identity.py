#!/usr/bin/env python3
"""Federated identity (issue 16): ID token validation against PyJWT, and logins through the whole code flow.

    .venv/bin/python bench/identity.py [--seconds S] [--rounds R] [--quick] [--clock cpu] [--only tokens,logins]
                                       [--postgres URL] [--concurrency C]

Prints one JSON object per line on stdout::

    {"bench": "id-token-validate-rs256", "ours": X, "baseline": "PyJWT jwt.decode", "baseline_value": Y,
     "ratio": X / Y, "unit": "ops/s"}
    {"bench": "idp-logins-2w", "ours": X, "baseline": "the same on 1 worker", ..., "unit": "logins/s"}

* ``id-token-validate-rs256`` / ``-es256``: :meth:`trust.rp.RelyingParty.validate` (signature by a key of the OP's
  trust chain, ``iss``, ``aud``, ``exp``, ``nonce``, ``acr``, ``huren_region`` against the anchor's policy), with the
  trust chain validated once and cached per OP (as a relying service runs), against PyJWT's ``jwt.decode`` of the same
  token with the same key (signature, ``aud``, ``iss``, ``exp``; PyJWT checks neither nonce, acr nor region). Target
  ratio >= 1.0.
* ``id-token-validate-rs256-cold``: the same with the chain validated every time (three statement signatures; what a
  relying party without a cache pays), against the same PyJWT figure.
* ``idp-logins-2w``: logins per second through the whole code flow — authorisation request, login form (citizen ID
  and password, scrypt), redirect, code, token request with PKCE, ID token — by ``--concurrency`` browsers against
  ``trust serve --workers 2`` on PostgreSQL (``--postgres``, a scratch database); baseline the same on 1 worker.
  Skipped with a note when PostgreSQL does not answer.

Progress and every per-round sample go to stderr. Method: bench/README.md; figures: docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import secrets
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

if TYPE_CHECKING:  # mypy checks bench/ as the namespace package bench
    from bench._harness import Bench, log, timing, timing_arguments
else:  # run as a script, bench/ is sys.path[0]
    from _harness import Bench, log, timing, timing_arguments  # before any project import: takes bench/ off sys.path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench import _servers as servers  # noqa: E402 - after the path fix

PASSPHRASE = "bench passphrase, not secret"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PASSWORD = "bench-password"


# --- ID token validation -------------------------------------------------------------------------------------------


def token_benches(seconds: float, rounds: int) -> None:
    import jwt as pyjwt
    from cryptography.hazmat.primitives import serialization

    from tests.support.federation import RP, ZJ_OP, World
    from trust.rp import RelyingParty

    world = World()
    for alg in ("RS256", "ES256"):
        token = world.id_token(world.zj, alg)
        rp = RelyingParty.from_section(
            world.section(), client_id=RP, redirect_uri=f"{RP}/callback", clock=lambda: world.now + 5
        )
        pem = world.zj.signing_keys[alg].public_key.pem().encode()
        key = serialization.load_pem_public_key(pem)

        def ours(rp: RelyingParty = rp, token: str = token) -> object:
            return rp.validate(ZJ_OP, token, nonce="n-0S6_WzA2Mj")

        def baseline(token: str = token, key: Any = key, alg: str = alg) -> object:
            return pyjwt.decode(
                token, key, algorithms=[alg], audience=RP, issuer=ZJ_OP, options={"verify_iat": False}, leeway=60
            )

        bench = Bench(f"id-token-validate-{alg.lower()}", ours, "PyJWT jwt.decode", baseline)
        bench.run(rounds, seconds)
        bench.emit()
        if alg == "RS256":

            def cold(rp: RelyingParty = rp, token: str = token) -> object:
                rp.forget()
                return rp.validate(ZJ_OP, token, nonce="n-0S6_WzA2Mj")

            bench = Bench("id-token-validate-rs256-cold", cold, "PyJWT jwt.decode", baseline)
            bench.run(rounds, seconds)
            bench.emit()


# --- logins through the code flow ---------------------------------------------------------------------------------


def build(home: Path, port: int, database_url: str) -> list[str]:
    """Roots, the 浙江 SM2 CA, the anchor, the 浙江 OP, one relying service and citizens; returns their ID numbers."""
    from stdnum.iso7064 import mod_11_2

    from trust.service import ca as ca_service
    from trust.service.identity import anchor, op
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings(home=home, database_url=database_url, public_url=f"http://127.0.0.1:{port}", port=port,
                        key_kdf_iterations=2000)  # fmt: skip
    instance = Instance(settings, passphrase=PASSPHRASE.encode())
    instance.prepare_storage()
    ca_service.init(instance)
    ca_service.enrol(instance, kind="region", code="330000", family="SM2")
    anchor.init(instance)
    anchor.register(instance, kind=anchor.KIND_OP, region_code="330000", name="浙江省统一身份认证平台")
    anchor.register(instance, kind=anchor.KIND_RP, region_code="330000", name="基准服务", slug="bench")
    citizens = []
    for n in range(64):
        prefix = f"3301061990010{n:04d}"
        citizen = prefix + str(mod_11_2.calc_check_digit(prefix))
        op.add_citizen(instance, citizen, f"基准{n}", PASSWORD)
        citizens.append(citizen)
    return citizens


async def _one_login(base: str, citizen: str) -> None:
    import httpx

    from trust.formats import oidc

    client_id = f"{base}/rp/bench"
    verifier = secrets.token_urlsafe(48)
    params = {
        "response_type": "code", "client_id": client_id, "redirect_uri": f"{client_id}/callback",
        "scope": "openid", "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
        "code_challenge": oidc.pkce_challenge(verifier), "code_challenge_method": "S256",
    }  # fmt: skip
    async with httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False) as browser:
        page = await browser.get(f"/idp/330000/authorize?{urlencode(params)}")
        fields = {k: html.unescape(v) for k, v in re.findall(r"name='(query|csrf)' value='([^']*)'", page.text)}
        answer = await browser.post("/idp/330000/login", data={**fields, "citizen_id": citizen, "password": PASSWORD})
        while answer.status_code == 303:
            answer = await browser.get(answer.headers["location"])
        if answer.status_code != 302:
            raise RuntimeError(f"login answered {answer.status_code}: {answer.text[:200]}")
        code = parse_qs(urlsplit(answer.headers["location"]).query)["code"][0]
        tokens = await browser.post("/idp/330000/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": params["redirect_uri"],
            "client_id": client_id, "code_verifier": verifier,
        })  # fmt: skip
        if tokens.status_code != 200 or "id_token" not in tokens.json():
            raise RuntimeError(f"token request answered {tokens.status_code}: {tokens.text[:200]}")


async def _logins(base: str, citizens: list[str], seconds: float, concurrency: int) -> float:
    async def one(n: int) -> None:
        await _one_login(base, citizens[n % len(citizens)])

    return await servers.load(seconds, concurrency, one)


def login_benches(seconds: float, rounds: int, postgres: str, concurrency: int) -> None:
    from tests.support.server import free_port

    try:
        context = servers.scratch_database(postgres)
        database_url = context.__enter__()
    except Exception as exc:  # PostgreSQL is optional for this benchmark
        log(f"idp-logins: skipped, PostgreSQL does not answer ({type(exc).__name__}: {exc})")
        return
    try:
        with tempfile.TemporaryDirectory(prefix="huren-bench-idp-") as tmp:
            home, port = Path(tmp) / "home", free_port()
            citizens = build(home, port, database_url)
            env = {
                "TRUST_KEY_PASSPHRASE": PASSPHRASE, "TRUST_KEY_KDF_ITERATIONS": "2000", "TRUST_RATE_LIMIT": "0",
                "TRUST_ANONYMOUS_RATE_LIMIT": "0", "TRUST_LOGIN_RATE_LIMIT": "0", "TRUST_DATABASE_URL": database_url,
                "TRUST_REFRESH_SECONDS": "0",
            }  # fmt: skip

            def server(workers: int) -> AbstractContextManager[object]:
                return servers.serve(home, port, workers, Path(tmp) / f"serve-{workers}.log", env, ready_path="/readyz")

            servers.two_workers_against_one(
                "idp-logins-2w", "logins",
                server, lambda s: asyncio.run(_logins(f"http://127.0.0.1:{port}", citizens, s, concurrency)),
                seconds=seconds, rounds=rounds, log=log, concurrency=concurrency, storage="postgres",
            )  # fmt: skip
    finally:
        context.__exit__(None, None, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    timing_arguments(parser, 3.0)
    parser.add_argument("--only", default="tokens,logins", help="tokens, logins (comma-separated)")
    parser.add_argument("--postgres", default=os.environ.get("HUREN_BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    seconds, rounds = timing(parser, args)
    only = set(args.only.split(","))
    if "tokens" in only:
        token_benches(seconds, rounds)
    if "logins" in only:
        login_benches(max(seconds, 3.0), rounds, args.postgres, args.concurrency)


if __name__ == "__main__":
    main()
