"""``trust idp ...``: the regional OpenID Providers hosted by this service — create one for a region, list them, add
demo accounts, print the discovery document. Thin: ``trust.service.identity`` decides (docs/IDENTITY.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from trust.cli.common import HomeOption, console, instance
from trust.crypto.errors import InputError

app = typer.Typer(
    help="Regional OpenID Providers (one per region): create, list, citizen-add, discovery.", no_args_is_help=True
)


@app.command()
def create(
    region: Annotated[str, typer.Argument(help="GB/T 2260 code of the region, e.g. 330000")],
    name: Annotated[str, typer.Argument(help="Name of the OP, e.g. 浙江省统一身份认证平台")],
    level: Annotated[list[str] | None, typer.Option(help="Assurance level (acr) it may issue; repeat")] = None,
    home: HomeOption = None,
) -> None:
    """Create the region's OP: its federation key certified by the region's SM2 CA, registered with the anchor."""
    from trust.service.identity import anchor

    inst = instance(home)
    if not anchor.has_anchor(inst):
        anchor.init(inst)
    row = anchor.register(inst, kind=anchor.KIND_OP, region_code=region, name=name, levels=level)
    console.print(f"identity provider {row.id} (trust-list service {row.trust_service_id})")


@app.command("list")
def list_ops(home: HomeOption = None) -> None:
    """The OPs of the federation with their standing."""
    from trust.service.identity import anchor

    for row in anchor.entities(instance(home), anchor.KIND_OP, active_only=False):
        console.print(f"{row.status:10} {row.region or '-':7} {row.id}  {row.name}")


@app.command("citizen-add")
def citizen_add(
    citizen_id: Annotated[str, typer.Argument(help="GB 11643 citizen ID number")],
    name: Annotated[str, typer.Argument(help="The citizen's name")],
    password_file: Annotated[
        Path | None, typer.Option(help="Read the password from this file (default: $TRUST_DEMO_PASSWORD)")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Add (or reset) a demo login account; a region's real login goes behind op.set_authenticator instead."""
    from trust.formats.idcodes import mask
    from trust.service.identity import op

    password = password_file.read_text().strip() if password_file else os.environ.get("TRUST_DEMO_PASSWORD", "")
    if len(password) < 8:
        raise InputError("a password of at least 8 characters: --password-file or TRUST_DEMO_PASSWORD")
    op.add_citizen(instance(home), citizen_id, name, password)
    console.print(f"account {mask(citizen_id.strip().upper())} ready")


@app.command()
def discovery(
    region: Annotated[str, typer.Argument(help="GB/T 2260 code of the region")], home: HomeOption = None
) -> None:
    """Print the OP's discovery document (what /idp/<region>/.well-known/openid-configuration serves)."""
    from trust.service.identity import op

    inst = instance(home)
    console.print_json(json.dumps(op.discovery(inst, op.provider(inst, region)), ensure_ascii=False))
