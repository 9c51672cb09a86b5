"""``trust federation ...``: the identity federation's trust anchor — create it, register regional identity
providers and relying services, fetch, list and resolve statements, grant and revoke trust marks, withdraw members.
Thin: every decision is ``trust.service.identity.anchor``'s; the HTTP routes call the same functions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from trust.cli.common import HomeOption, console, instance

app = typer.Typer(
    help="Identity federation (OpenID Federation 1.0): init, register, list, configuration, fetch, resolve, withdraw, "
    "trust-mark.",
    no_args_is_help=True,
)


def _anchor() -> Any:
    from trust.service.identity import anchor

    return anchor


EntityArg = Annotated[str, typer.Argument(help="Entity identifier (an https URL)")]
LevelArg = Annotated[int, typer.Argument(help="实名认证 level of the trust mark (1, 2 or 3)", min=1, max=3)]


@app.command()
def init(home: HomeOption = None) -> None:
    """Create the trust anchor's federation key (once)."""
    row = _anchor().init(instance(home))
    console.print(f"trust anchor {row.id}")


@app.command()
def register(
    kind: Annotated[str, typer.Argument(help="openid_provider or openid_relying_party")],
    region: Annotated[str, typer.Argument(help="GB/T 2260 code of the member's region, e.g. 330000")],
    name: Annotated[str, typer.Argument(help="Name of the member, e.g. 浙江省统一身份认证平台")],
    slug: Annotated[str | None, typer.Option(help="Name of a hosted relying service: /rp/<slug>")] = None,
    entity_id: Annotated[str | None, typer.Option(help="An external member's entity identifier")] = None,
    certificate: Annotated[Path | None, typer.Option(help="External member: its key certificate (PEM or DER)")] = None,
    configuration: Annotated[Path | None, typer.Option(help="External member: its signed entity configuration")] = None,
    level: Annotated[list[str] | None, typer.Option(help="Assurance level (acr) an OP may issue; repeat")] = None,
    min_acr: Annotated[str | None, typer.Option(help="A hosted relying service's required level (acr)")] = None,
    home: HomeOption = None,
) -> None:
    """Register an identity provider or a relying service (hosted here unless --certificate/--configuration)."""
    row = _anchor().register(
        instance(home),
        kind=kind,
        region_code=region,
        name=name,
        slug=slug,
        entity_id=entity_id,
        levels=level,
        metadata={"openid_relying_party": {"default_acr_values": [min_acr]}} if min_acr else None,
        certificate=certificate.read_bytes() if certificate else None,
        configuration=configuration.read_text() if configuration else None,
    )
    service = f" (trust-list service {row.trust_service_id})" if row.trust_service_id else ""
    console.print(f"registered {row.kind} {row.id}{service}")


@app.command("citizen-page")
def citizen_page(
    region: Annotated[str, typer.Argument(help="GB/T 2260 code of the region whose CA certifies the page's key")],
    home: HomeOption = None,
) -> None:
    """Register the citizen's licence page (/citizen) as a relying service, so citizens sign in through their OP."""
    from trust.service.identity import citizen_page as page

    row = page.register(instance(home), region)
    console.print(f"registered {row.kind} {row.id} (redirect {page.redirect_uri(instance(home))})")


@app.command("list")
def list_members(
    as_json: Annotated[bool, typer.Option("--json", help="JSON output")] = False,
    home: HomeOption = None,
) -> None:
    """Every member with its region and standing."""
    rows = _anchor().entities(instance(home), active_only=False)
    if as_json:
        data = [
            {"entity_id": r.id, "kind": r.kind, "region": r.region, "name": r.name, "status": r.status} for r in rows
        ]
        console.print_json(json.dumps(data, ensure_ascii=False))
        return
    for r in rows:
        console.print(f"{r.status:10} {r.kind:22} {r.region or '-':7} {r.id}  {r.name}")


@app.command()
def configuration(
    entity_id: Annotated[str | None, typer.Argument(help="Member (default: the anchor)")] = None,
    home: HomeOption = None,
) -> None:
    """Print an entity configuration (a signed JWT)."""
    anchor, inst = _anchor(), instance(home)
    token = anchor.anchor_configuration(inst) if entity_id is None else anchor.entity_configuration(inst, entity_id)
    print(token)


@app.command()
def fetch(entity_id: EntityArg, home: HomeOption = None) -> None:
    """Print the anchor's subordinate statement about a member."""
    print(_anchor().subordinate_statement(instance(home), entity_id))


@app.command()
def resolve(entity_id: EntityArg, home: HomeOption = None) -> None:
    """Validate a member's trust chain and print its resolved metadata and trust marks."""
    chain = _anchor().resolve_chain(instance(home), entity_id)
    console.print_json(
        json.dumps(
            {
                "subject": chain.subject,
                "anchor": chain.anchor,
                "expires_at": chain.expires_at,
                "metadata": chain.metadata,
                "trust_marks": [m.trust_mark_type for m in chain.trust_marks],
            },
            ensure_ascii=False,
        )
    )


@app.command()
def withdraw(
    entity_id: EntityArg,
    reason: Annotated[str, typer.Option(help="Reason recorded")] = "",
    home: HomeOption = None,
) -> None:
    """Withdraw a member: the anchor stops vouching, an OP's trust-list service is withdrawn from now."""
    row = _anchor().withdraw(instance(home), entity_id, reason)
    console.print(f"{row.id} withdrawn")


trust_mark_app = typer.Typer(
    help="Trust marks the anchor grants (实名认证 level N identity provider): grant, revoke.", no_args_is_help=True
)
app.add_typer(trust_mark_app, name="trust-mark")


@trust_mark_app.command("grant")
def grant(entity_id: EntityArg, level: LevelArg, home: HomeOption = None) -> None:
    """Grant an identity provider the trust mark of a level."""
    record = _anchor().grant_trust_mark(instance(home), entity_id, level)
    console.print(f"granted {record.trust_mark_type} to {record.entity_id}")


@trust_mark_app.command("revoke")
def revoke(entity_id: EntityArg, level: LevelArg, home: HomeOption = None) -> None:
    """Revoke a trust mark (listed as revoked in the bundle and by the status endpoint)."""
    record = _anchor().revoke_trust_mark(instance(home), entity_id, level)
    console.print(f"revoked {record.trust_mark_type} of {record.entity_id}")
