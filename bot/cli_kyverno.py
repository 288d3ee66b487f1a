"""``gitops-gate kyverno test DIR...``: runs the ``kyverno-test.yaml`` files under DIR against
the project's Kyverno engine, as ``kyverno test`` does.

Output: for each test file its expected-vs-actual table (ID, POLICY, RULE, RESOURCE, RESULT,
REASON) and a summary; ``--output json`` prints instead the engine's result rows, one per
(policy, rule, resource) evaluated: ``{policy, rule, resource, kind, namespace, result,
message}``. Exit 0 when every expectation is met (rows this engine cannot check are listed with
the reason and do not fail the run), 1 on any mismatch or a test that cannot be run.
"""

from __future__ import annotations

import sys

import click

from bot.analyzers.kyverno.kyverno_test import TEST_FILE, SuiteResult, run_tests
from bot.analyzers.kyverno.results import CheckedRow, EngineRow, render_json, render_table, summary

kyverno = click.Group("kyverno", help="Kyverno policies: run kyverno-test.yaml suites.")


@kyverno.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "-f",
    "--file-name",
    default=TEST_FILE,
    show_default=True,
    help="Name of the test files to look for.",
)
@click.option(
    "-o",
    "--output",
    type=click.Choice(("table", "json")),
    default="table",
    show_default=True,
    help="table: expected vs actual per test; json: the engine's result rows.",
)
@click.option("--fail-only", is_flag=True, help="Show only the rows that failed.")
def test(paths: tuple[str, ...], file_name: str, output: str, fail_only: bool) -> None:
    """Run every kyverno-test.yaml under PATHS (folders are searched recursively)."""
    suites = run_tests(paths, file_name)
    if output == "json":
        rows: list[EngineRow] = [row for suite in suites for row in suite.engine_rows]
        click.echo(render_json(rows), nl=False)
        for suite in suites:
            _errors(suite, err=True)
    else:
        _print_tables(suites, fail_only)
    if not suites:
        click.echo(f"No {file_name} files found under {', '.join(paths)}", err=True)
    sys.exit(1 if any(suite.failed for suite in suites) else 0)


def _print_tables(suites: list[SuiteResult], fail_only: bool) -> None:
    all_rows: list[CheckedRow] = []
    for suite in suites:
        click.echo(f"Loading test {suite.name} ( {suite.path} ) ...")
        _errors(suite, err=False)
        if suite.error is None:
            table = render_table(suite.rows, fail_only=fail_only)
            if table:
                click.echo(table, nl=False)
        all_rows.extend(suite.rows)
    click.echo("")
    click.echo(summary(all_rows, fail_only=fail_only), nl=False)
    errors = sum(1 for suite in suites if suite.error is not None)
    if errors:
        click.echo(f"{errors} test file(s) could not be run")


def _errors(suite: SuiteResult, *, err: bool) -> None:
    if suite.error is not None:
        click.echo(f"  Error: {suite.error}", err=err)
    for problem in suite.problems:
        where = f"{problem.path}:{problem.line}" if problem.line else problem.path
        click.echo(f"  Policy error: {where}: {problem.message}", err=err)
    for note in suite.notes:
        click.echo(f"  Note: {note}", err=err)
