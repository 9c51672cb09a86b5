"""The issuance transparency log over HTTP (issue 19, docs/TRANSPARENCY.md): what witnesses, monitors and holders fetch.

All public and cacheable, all reads: ``GET /log/checkpoint`` (the latest signed checkpoint, text), ``GET
/log/tile/{path}`` (c2sp.org/tlog-tiles, the files under ``public/log/tile/``), ``GET /log/proof/consistency`` (RFC
9162 §2.1.4 between two sizes, for a witness or a monitor elsewhere) and ``GET /log/proof/inclusion`` (the proof of an
entry by its SHA-256: what ``trust log prove`` prints). One write: ``POST /log/cosignatures``, a region's witness
(its platform client) posting its ``cosignature/v1`` of a checkpoint (``trust log witness --url``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from trust.crypto.errors import Code, InputError, NotFoundError
from trust.http import caching, problems
from trust.http.auth import Client, allow
from trust.service import tlog
from trust.service.instance import Instance
from trust.service.policy import Action

router = APIRouter(prefix="/log", tags=["transparency log"])
CHECKPOINT_MAX_AGE: Final = 60
TILE_MAX_AGE: Final = 3600
_TILE: Final = re.compile(r"(?:[0-9]{1,2}|entries)/(?:x[0-9]{3}/){0,6}[0-9]{3}(?:\.p/[0-9]{1,3})?")
MAX_SIZE: Final = 2**63 - 1


_EXAMPLE_NOTE: Final = (
    "trust.example.gov.cn/log\n4711\n0GSH8asqxTJ72yQM8J7B+Be5LASSgExF6mKEhJC4JOs=\nhuren-time 2026-12-07T10:16:34Z\n\n"
    "\u2014 trust.example.gov.cn/log tkgiNTBFAiA/97OOLrXpWskX5gwYMH2Olpo=\n"
)
_CHECKPOINT_SCHEMA: Final = {"type": "string", "example": _EXAMPLE_NOTE}
_CONSISTENCY_EXAMPLE: Final = {
    "old_size": 4096,
    "new_size": 4711,
    "consistency": ["5a47662fd8a317d96049a3f9f47c55dc67ca66051baa3683dbb19b2fe09a07b0"],
}
_INCLUSION_EXAMPLE: Final = {
    "hash": "sha256",
    "leaf_hash": "2c26b1ab83fe5ceafcc70bad20744cbfba9db779794ee3bef9031f73d4f96ce1",
    "leaf_index": 17,
    "tree_size": 4711,
    "inclusion": ["150488591a7905d6b5e59a5fb5702d6ed32eca2a3c09a916f04da74a4836bfb0"],
    "root_hash": "d064873c4b2a71327bdb240cf09ec1f817b92c0492804c45ea6284849090b824",
    "checkpoint": _EXAMPLE_NOTE,
    "entry": "eyJraW5kIjoiY2VydGlmaWNhdGUifQ==",
}


def _json_example(description: str, example: object) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"application/json": {"example": example}}}}


def _instance(request: Request) -> Instance:
    instance: Instance = request.app.state.instance
    return instance


@router.get(
    "/checkpoint",
    summary="The latest checkpoint (C2SP signed note, with its cosignatures)",
    response_class=Response,
    responses={
        **caching.responses("The checkpoint", media_type="text/plain", schema=_CHECKPOINT_SCHEMA),
        **problems.responses(404),
    },
    openapi_extra=caching.OPENAPI_EXTRA,
)
def checkpoint(request: Request) -> Response:
    record = tlog.latest_checkpoint(_instance(request))
    if record is None:
        raise NotFoundError("the log has no checkpoint yet", code=Code.LOG_ENTRY_NOT_FOUND)
    return caching.cached(request, record.note.encode(), "text/plain; charset=utf-8", max_age=CHECKPOINT_MAX_AGE)


@router.get(
    "/tile/{path:path}",
    summary="A tile or an entry bundle (c2sp.org/tlog-tiles)",
    response_class=Response,
    responses={**caching.responses("The tile", media_type="application/octet-stream"), **problems.responses(404)},
    openapi_extra=caching.OPENAPI_EXTRA,
)
def tile(path: str, request: Request) -> Response:
    if not _TILE.fullmatch(path):
        raise NotFoundError("no such tile", code=Code.LOG_ENTRY_NOT_FOUND)
    file = _instance(request).settings.published_dir / "log" / "tile" / path
    try:
        data = file.read_bytes()
    except OSError:
        raise NotFoundError("no such tile", code=Code.LOG_ENTRY_NOT_FOUND) from None
    # a full tile never changes; a partial one is replaced by a longer one (another path)
    return caching.cached(request, data, "application/octet-stream", max_age=TILE_MAX_AGE)


@router.get(
    "/proof/consistency",
    summary="RFC 9162 consistency proof between two tree sizes",
    responses={**_json_example("The proof (hashes in hex)", _CONSISTENCY_EXAMPLE), **problems.responses(400, 422)},
)
def consistency(
    request: Request,
    old_size: Annotated[int, Query(ge=0, le=MAX_SIZE, description="Size of the older tree")],
    new_size: Annotated[int, Query(ge=0, le=MAX_SIZE, description="Size of the newer tree")],
) -> JSONResponse:
    instance = _instance(request)
    latest = tlog.latest_checkpoint(instance)
    if latest is None or not old_size <= new_size <= latest.size:
        raise InputError(
            f"sizes must satisfy old_size <= new_size <= {latest.size if latest else 0} (the latest checkpoint)",
            code=Code.LOG_MALFORMED,
        )
    proof = tlog.consistency(instance, old_size, new_size)
    return JSONResponse({"old_size": old_size, "new_size": new_size, "consistency": [h.hex() for h in proof]})


@router.get(
    "/proof/inclusion",
    summary="Inclusion proof of a logged entry by the SHA-256 of its credential",
    responses={
        **_json_example("The proof document (trust log prove)", _INCLUSION_EXAMPLE),
        **problems.responses(400, 404, 422),
    },
)
def inclusion(
    request: Request,
    sha256: Annotated[str, Query(min_length=64, max_length=64, description="SHA-256 of the credential's DER, hex")],
) -> JSONResponse:
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        raise InputError("sha256 must be 64 lowercase hex digits", code=Code.LOG_MALFORMED)
    instance = _instance(request)
    leaf = tlog.find(instance, digest=sha256)
    record = tlog.latest_checkpoint(instance)
    if record is None or record.size <= leaf.idx:
        raise NotFoundError(
            "the entry is not covered by a checkpoint yet: ask again after the next one", code=Code.LOG_ENTRY_NOT_FOUND
        )
    return JSONResponse(tlog.prove(instance, leaf, record).to_json())


MAX_NOTE_CHARS: Final = 64 * 1024


class CosignatureIn(BaseModel):
    checkpoint: str = Field(
        min_length=1,
        max_length=MAX_NOTE_CHARS,
        description="The checkpoint as GET /log/checkpoint served it, with the witness's cosignature/v1 line added",
        examples=[_EXAMPLE_NOTE + "\u2014 zj.example/witness fabddbe9AAAAAGj...\n"],
    )

    model_config = {"extra": "forbid"}


class CosignatureOut(BaseModel):
    size: int = Field(description="The checkpoint's tree size")
    cosigned_by: list[str] = Field(description="The witnesses whose cosignatures this request added")
    checkpoint: str = Field(description="The log's copy of the checkpoint, with every cosignature it now holds")

    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "size": 4711,
                    "cosigned_by": ["zj.example/witness"],
                    "checkpoint": _EXAMPLE_NOTE + "\u2014 zj.example/witness fabddbe9AAAAAGj...\n",
                }
            ]
        }
    }


@router.post(
    "/cosignatures",
    summary="A region's witness cosigns a checkpoint (its platform client; as its own region's witness only)",
    response_model=CosignatureOut,
    responses=problems.responses(*problems.JSON_BODY, 401, 403, 404),
)
def cosignatures(body: CosignatureIn, request: Request, principal: Client) -> CosignatureOut:
    """The witness checked the checkpoint against the one it cosigned last (``trust log witness --url``); here each
    new cosignature is checked against the witness key registered for the region (``trust log witness-key``) and the
    checkpoint must be one the log signed, text for text (else 404 ``E1804``). A cosignature of another region's
    witness is 403, a forged one 422 ``E1803``, none at all 400 ``E1807``."""
    instance = _instance(request)
    signers = tlog.new_cosigners(instance, body.checkpoint)
    for region in sorted(set(signers.values())):
        allow(request, principal, Action.LOG_COSIGN, region=region)
    record = tlog.accept_cosignatures(instance, body.checkpoint, witnesses=signers)
    return CosignatureOut(size=record.size, cosigned_by=sorted(signers), checkpoint=record.note)
