"""Options shared by several commands, as module-level decorators."""

from __future__ import annotations

import click

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print results as JSON on stdout (for scripts)."
)
quiet_option = click.option(
    "--quiet", "-q", is_flag=True, help="No progress output; results and errors only."
)
