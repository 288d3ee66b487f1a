"""``gitops-gate rego test`` and ``gitops-gate rego verify``: drop-in ``conftest test`` and
``conftest verify`` (same flags, stdout lines, JSON and exit codes; reference/rego-conftest.md).

Exit codes follow conftest, not ``check``: 0 clean (warnings alone too), 1 failures; with
``--fail-on-warn`` 2 failures, 1 warnings; ``--no-fail`` always 0. Any error (an input that does
not parse, a policy that does not compile, an evaluation error) prints ``Error: ...`` on stderr,
nothing on stdout, and exits 1 as conftest does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click

from bot.analyzers.rego.inputs import PARSERS
from bot.analyzers.rego.results import CheckResult, exit_code, render_json, render_stdout
from bot.analyzers.rego.runner import (
    RunError,
    TestingEngine,
    TestOptions,
    VerifyOptions,
    run_test,
    run_verify,
)

OUTPUTS = ("stdout", "json")
# conftest's other formats: named so the error can say they are not supported yet.
_LATER_OUTPUTS = ("tap", "table", "junit", "github", "azuredevops", "sarif")


class _ConftestCommand(click.Command):
    """Usage mistakes exit 1 with ``Error: ...``, as conftest (cobra) does, not click's 2."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            raise click.exceptions.Exit(1) from None


rego = click.Group(
    "rego",
    help="Rego policies the conftest way: test files against policies, verify policy tests.",
)


def _engine() -> TestingEngine:
    from bot.engines.rego_engine import RegorusEngine

    return RegorusEngine()


def _split(values: Sequence[str]) -> list[str]:
    """conftest's list flags also take comma-separated values (``-p a,b``)."""
    return [part for value in values for part in value.split(",")]


def _output(value: str) -> str:
    if value in OUTPUTS:
        return value
    if value in _LATER_OUTPUTS:
        raise RunError(
            f"--output {value} is not supported by gitops-gate rego yet; use stdout or json"
        )
    return "stdout"  # conftest falls back to its standard output for unknown names


def _colour(no_color: bool) -> bool:
    return not no_color and sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def _fail(exc: Exception) -> NoReturn:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(1)


def _run(
    output: str, run: Callable[[TestingEngine], list[CheckResult]]
) -> tuple[str, list[CheckResult]]:
    """The output format and ``run``'s results on a fresh engine, closed afterwards; a
    RunError (a bad ``--output`` too) ends the command as conftest does."""
    try:
        fmt = _output(output)
        engine = _engine()
        try:
            return fmt, run(engine)
        finally:
            engine.close()
    except RunError as exc:
        _fail(exc)


@rego.command("test", cls=_ConftestCommand)
@click.argument("files", nargs=-1)
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    default=("policy",),
    show_default=True,
    help="Policy file or folder (repeatable; folders are walked for *.rego).",
)
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    default=("main",),
    show_default=True,
    help="Package to test (repeatable; Go path.Match globs such as 'k8s.*').",
)
@click.option("--all-namespaces", is_flag=True, help="Test every package of the policies.")
@click.option("-d", "--data", "data", multiple=True, help="Data file or folder (JSON/YAML).")
@click.option("--combine", is_flag=True, help="Evaluate all files as one input.")
@click.option("--fail-on-warn", is_flag=True, help="Exit 1 on warnings, 2 on failures.")
@click.option("--no-fail", is_flag=True, help="Always exit 0.")
@click.option("--no-color", is_flag=True, help="No colours (none either when not a terminal).")
@click.option("--suppress-exceptions", is_flag=True, help="Do not print EXCP lines.")
@click.option("--quiet", is_flag=True, help="Print nothing when the run passes.")
@click.option("--parser", type=click.Choice(PARSERS), help="Parse every file as this type.")
@click.option("--ignore", metavar="REGEX", help="Skip paths found in folders that match.")
@click.option("-o", "--output", default="stdout", show_default=True, help="stdout or json.")
@click.option(
    "--rego-version", default="v1", show_default=True, help="Rego syntax of the policies: v0 or v1."
)
def test(
    files: tuple[str, ...],
    policies: tuple[str, ...],
    namespaces: tuple[str, ...],
    all_namespaces: bool,
    data: tuple[str, ...],
    combine: bool,
    fail_on_warn: bool,
    no_fail: bool,
    no_color: bool,
    suppress_exceptions: bool,
    quiet: bool,
    parser: str | None,
    ignore: str | None,
    output: str,
    rego_version: str,
) -> None:
    """Test FILES (YAML or JSON, '-' for stdin) against Rego policies, as `conftest test`."""
    options = TestOptions(
        files=files,
        policies=_split(policies),
        namespaces=_split(namespaces),
        all_namespaces=all_namespaces,
        data=_split(data),
        combine=combine,
        parser=parser,
        rego_version=rego_version,
        ignore=ignore,
    )
    fmt, results = _run(output, lambda engine: run_test(options, engine))
    code = exit_code(results, fail_on_warn=fail_on_warn)
    if not quiet or code != 0:
        _emit(results, fmt, no_color, suppress_exceptions=suppress_exceptions)
    sys.exit(0 if no_fail else code)


@rego.command("verify", cls=_ConftestCommand)
@click.argument("paths", nargs=-1)
@click.option(
    "-p",
    "--policy",
    "policies",
    multiple=True,
    default=("policy",),
    show_default=True,
    help="Policy file or folder holding the modules and their *_test.rego tests.",
)
@click.option("-d", "--data", "data", multiple=True, help="Data file or folder (JSON/YAML).")
@click.option(
    "-n",
    "--namespace",
    "namespaces",
    multiple=True,
    help="Report only tests of these packages (globs; default: every package).",
)
@click.option("--no-color", is_flag=True, help="No colours (none either when not a terminal).")
@click.option("--quiet", is_flag=True, help="Print nothing when every test passes.")
@click.option("-o", "--output", default="stdout", show_default=True, help="stdout or json.")
@click.option(
    "--rego-version", default="v1", show_default=True, help="Rego syntax of the policies: v0 or v1."
)
def verify(
    paths: tuple[str, ...],
    policies: tuple[str, ...],
    data: tuple[str, ...],
    namespaces: tuple[str, ...],
    no_color: bool,
    quiet: bool,
    output: str,
    rego_version: str,
) -> None:
    """Run the policies' Rego unit tests (test_* rules), as `conftest verify`."""
    del paths  # conftest accepts and ignores positional arguments here
    options = VerifyOptions(
        policies=_split(policies),
        data=_split(data),
        namespaces=_split(namespaces),
        rego_version=rego_version,
    )
    fmt, results = _run(output, lambda engine: run_verify(options, engine))
    code = exit_code(results)
    if not quiet or code != 0:
        _emit(results, fmt, no_color, show_skipped=True)
    sys.exit(code)


def _emit(
    results: Sequence[CheckResult],
    fmt: str,
    no_color: bool,
    *,
    suppress_exceptions: bool = False,
    show_skipped: bool = False,
) -> None:
    if fmt == "json":
        click.echo(render_json(results), nl=False)
        return
    click.echo(
        render_stdout(
            results,
            colour=_colour(no_color),
            suppress_exceptions=suppress_exceptions,
            show_skipped=show_skipped,
        ),
        nl=False,
    )
