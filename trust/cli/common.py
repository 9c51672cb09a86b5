"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from trust.service.instance import Instance

# No rich markup or highlighting anywhere: the CLI prints subjects, names and messages that came from requests and
# files, and "[green]…[/]" in a subject must print as those characters (issue 11, item 5).
console = Console(soft_wrap=True, markup=False, highlight=False)
err_console = Console(stderr=True, soft_wrap=True, markup=False, highlight=False)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="Instance folder (database, key store, published files); default $TRUST_HOME or ./var"),
]


def instance(home: Path | None) -> Instance:
    """The instance for a command; imported lazily so that ``trust verify`` never loads the storage layers."""
    from trust.service import audit
    from trust.service.instance import Instance
    from trust.settings import Settings

    settings = Settings()
    if home is not None:
        settings = settings.with_home(home)
    if audit.actor_var.get() is None:  # changes made by this command are audited as the local operator
        import uuid

        audit.actor_var.set(audit.cli_actor())
        audit.request_id_var.set(f"cli-{uuid.uuid4().hex[:16]}")
    return Instance(settings)
