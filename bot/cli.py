"""The command line: ``gitops-gate check`` (and, as they land, rego, kyverno and serve).

Exit codes: 0 pass, 1 findings at or above ``--fail-on``, 2 usage, config or policy-load error.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from bot import __version__, workspace
from bot.cli_kyverno import kyverno
from bot.cli_rego import rego
from bot.config import FailOn, SchemaEngine, parse_config
from bot.core.finding import Category
from bot.core.pipeline import Options, Report, run
from bot.engines.local import local_engines
from bot.engines.schema_store import shipped_versions
from bot.errors import BotError
from bot.reporters import github_actions, sarif, text
from bot.reporters import json as json_reporter

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2
FORMATS = ("text", "json", "sarif", "github")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gitops-gate")
def main() -> None:
    """gitops-gate: guards GitOps repositories on the pull request."""


def _categories(value: str | None) -> frozenset[Category] | None:
    if not value:
        return None
    out = set()
    for word in value.split(","):
        word = word.strip().lower()
        try:
            out.add(Category(word))
        except ValueError:
            names = ", ".join(c.value for c in Category if c is not Category.INTERNAL)
            raise click.BadParameter(f'unknown category "{word}"; choose from {names}') from None
    # Internal failures and config problems (a broken policy is one) are always shown: hiding
    # them could hide a broken run.
    return frozenset(out | {Category.INTERNAL, Category.CONFIG})


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--base", metavar="REF", help="Check only files changed since the merge base with REF."
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Config file (default: .github/gitops-gate.yml under the checked root).",
)
@click.option(
    "--policy",
    "policies",
    multiple=True,
    metavar="PATH",
    help="Rego policy file or folder, on top of the config's (repeatable).",
)
@click.option(
    "--kubernetes-version", metavar="X.Y", help="Kubernetes version whose schemas to use."
)
@click.option(
    "--schema-engine",
    type=click.Choice([e.value for e in SchemaEngine]),
    help="Schema backend (default: the config's schema.engine, else embedded).",
)
@click.option("--only", metavar="CATEGORY,...", help="Report only these categories.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here."
)
@click.option(
    "--fail-on",
    type=click.Choice([f.value for f in FailOn if f is not FailOn.NOTICE]),
    default="error",
    show_default=True,
    help="Lowest severity that fails the run (environments in the config may set their own).",
)
def check(
    paths: tuple[Path, ...],
    base: str | None,
    config_file: Path | None,
    policies: tuple[str, ...],
    kubernetes_version: str | None,
    schema_engine: str | None,
    only: str | None,
    fmt: str,
    output: Path | None,
    fail_on: str,
) -> None:
    """Lint and validate the manifests under PATHS (default: the current directory)."""
    try:
        categories = _categories(only)
        version = _version(kubernetes_version)
        root = workspace.find_root(list(paths))
        changeset = (
            workspace.from_base(root, base, config_file)
            if base
            else workspace.from_paths(root, list(paths), config_file)
        )
        config, config_findings = parse_config(
            changeset.config_text,
            changeset.config_path or ".github/gitops-gate.yml",
            supported_versions=shipped_versions(),
            read_file=changeset.trusted.read,
        )
        options = Options(
            only=categories,
            fail_on=FailOn(fail_on),
            kubernetes_version=version,
            schema_engine=SchemaEngine(schema_engine) if schema_engine else None,
            policies=policies,
        )
        report = run(changeset, config, options, local_engines(root), config_findings)
    except click.BadParameter:
        raise
    except BotError as exc:
        click.echo(f"gitops-gate: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    _emit(report, fmt, output)
    if report.files == 0:
        click.echo("gitops-gate: note: no YAML or JSON files to check", err=True)
    if report.has_config_errors():
        sys.exit(EXIT_USAGE)
    sys.exit(EXIT_FINDINGS if report.conclusion == "failure" else EXIT_OK)


def _version(value: str | None) -> str | None:
    if value is None:
        return None
    parts = value.lstrip("v").split(".")
    version = ".".join(parts[:2])
    if version not in shipped_versions():
        raise BotError(
            f"--kubernetes-version {value}: no bundled schemas; available: "
            + ", ".join(shipped_versions())
        )
    return version


def _emit(report: Report, fmt: str, output: Path | None) -> None:
    if fmt == "json":
        rendered = json_reporter.render(report)
    elif fmt == "sarif":
        rendered = sarif.render(report)
    elif fmt == "github":
        rendered = github_actions.render(report)
    else:
        # https://no-color.org: any non-empty NO_COLOR turns colours off.
        colour = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        rendered = text.render(report, colour=colour)
    if output is None:
        click.echo(rendered, nl=False)
    else:
        output.write_text(rendered, encoding="utf-8")


main.add_command(rego)
main.add_command(kyverno)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Run the GitHub App (settings from GITOPS_GATE_* environment variables)."""
    import logging

    from aiohttp import web

    from bot.github.app import create_app
    from bot.settings import load_settings

    try:
        settings = load_settings(os.environ)
    except BotError as exc:
        click.echo(f"gitops-gate: error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    logging.basicConfig(
        level=os.environ.get("GITOPS_GATE_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    web.run_app(create_app(settings), host=host, port=port, print=None)
