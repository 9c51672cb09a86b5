"""The holder client (:class:`trust.client.HolderClient`, :func:`trust.client.present_license`) against a real server:
a fetch that met a server error is sent again with a *new* proof (a proof is single use), a PDF fetch is never sent
twice, and presentations disclose exactly the named fields."""

from __future__ import annotations

import httpx
import pytest

from tests.support.sdk import Sdk
from tests.trust.client.faults import Faulty
from trust.client import HolderClient, ProblemError, RetryPolicy, disclosable_fields, present_license
from trust.crypto.errors import InputError
from trust.crypto.keys import generate_private_key
from trust.formats import sdjwt


def test_a_failed_fetch_is_retried_with_a_fresh_proof(sdk: Sdk) -> None:
    holder = generate_private_key("ec-p256")
    record = sdk.issue(holder)
    path = f"/holder/licenses/{record.identifier}"
    transport = Faulty({("POST", path): ["lose-answer", "503"]})
    waits: list[float] = []
    client = HolderClient(
        sdk.url,
        signer=holder.signer(),
        http=httpx.Client(transport=transport),
        retry=RetryPolicy(attempts=3, backoff=0.01),
        sleep=waits.append,
    )
    assert client.license(record.identifier).sd_jwt == record.sd_jwt
    proofs = [s.body for s in transport.to("POST", path) if s.path == path]
    assert len(proofs) == 3 and len(set(proofs)) == 3 and len(waits) == 2  # three sends, three proofs
    transport.plan[("POST", f"{path}/pdf")] = ["503"]
    with pytest.raises(ProblemError):
        client.license_pdf(record.identifier)
    assert len(transport.to("POST", f"{path}/pdf")) == 1


def test_presentations_disclose_exactly_the_named_fields(sdk: Sdk) -> None:
    holder = generate_private_key("sm2")
    record = sdk.issue(holder)
    fields = disclosable_fields(record.sd_jwt)
    assert "name" in fields and "uscc" in fields and "holder" not in fields
    shown = present_license(record.sd_jwt, ["uscc"], holder=holder.signer(), audience="aud", nonce="nonce")
    assert [sdjwt.decode_disclosure(d).name for d in shown.split("~")[1:-1]] == ["uscc"]
    with pytest.raises(InputError, match="disclosable fields: "):
        present_license(record.sd_jwt, ["legal_rep"])
    with pytest.raises(InputError, match="holder key"):
        present_license(record.sd_jwt, ["uscc"], nonce="n")
    with pytest.raises(InputError, match="not one string"):
        present_license(record.sd_jwt, "uscc")
