"""Secret findings through the whole pipeline: redaction in every output, allowances listed,
and on a diff only added lines count."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from bot.core.finding import Category, Severity
from bot.reporters import github_actions, sarif, text
from bot.reporters import json as json_reporter
from tests.conftest import check_tree, write_tree

_RNG = random.Random(20261127)
STRIPE = "sk_live_" + "".join(
    _RNG.choice("abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(32)
)
DB_PASSWORD = "Zq8vN2kLm4Tp"
PLANTED = (STRIPE, DB_PASSWORD)

DEPLOY = f"""\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {{app: api}}
  template:
    metadata:
      labels: {{app: api}}
    spec:
      containers:
        - name: api
          image: acme/api:1@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
          env:
            - name: DATABASE_URL
              value: postgres://app:{DB_PASSWORD}@db.prod.svc:5432/app
            - name: STRIPE_KEY
              value: {STRIPE}
"""

SEALED = """\
apiVersion: bitnami.com/v1alpha1
kind: SealedSecret
metadata:
  name: api
spec:
  encryptedData:
    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq5WtZAHIL1cDAFKh6SK1g8zqPH1vtqpmRKJBt3WiqG9N2Q7lMZ2Fw
"""


def test_secrets_are_findings_at_their_lines_and_never_printed(tmp_path: Path) -> None:
    report = check_tree(tmp_path, {"deploy.yaml": DEPLOY, "sealed.yaml": SEALED})
    secrets = [f for f in report.findings if f.category is Category.SECRET]
    assert {(f.path, f.line, f.rule_id) for f in secrets} == {
        ("deploy.yaml", 17, "secret/database-url"),
        ("deploy.yaml", 19, "secret/stripe-secret-key"),
    }
    assert all(f.severity is Severity.ERROR for f in secrets)
    assert all(f.resource is not None and f.resource.name == "api" for f in secrets)
    outputs = [
        text.render(report),
        text.render(report, colour=True),
        json_reporter.render(report),
        sarif.render(report),
        github_actions.render(report),
    ]
    for output in outputs:
        for secret in PLANTED:
            assert secret not in output
    assert "sk_l…" in json_reporter.render(report)  # the redacted form says what it is


def test_the_cli_never_prints_a_secret(tmp_path: Path) -> None:
    write_tree(tmp_path, {"deploy.yaml": DEPLOY})
    for fmt in ("text", "json", "sarif", "github"):
        result = CliRunner().invoke(main, ["check", str(tmp_path), "--format", fmt])
        assert result.exit_code == 1
        for secret in PLANTED:
            assert secret not in result.output


def test_allow_comments_and_config_allowlists_are_listed(tmp_path: Path) -> None:
    # The comment must be on the secret's line or right above it.
    allowed = DEPLOY.replace(
        f"              value: {STRIPE}\n",
        '              # gitops-gate: allow-secret reason="sandbox key, test fixture"\n'
        f"              value: {STRIPE}\n",
    )
    no_reason = DEPLOY.replace(
        "              value: postgres",
        "              # gitops-gate: allow-secret\n              value: postgres",
    )
    report = check_tree(
        tmp_path,
        {
            ".github/gitops-gate.yml": 'secrets:\n  allow:\n    paths: ["fixtures/**"]\n',
            "apps/deploy.yaml": allowed,
            "fixtures/deploy.yaml": DEPLOY,
            "other/deploy.yaml": no_reason,
        },
    )
    got = {(f.path, f.rule_id) for f in report.findings if f.category is Category.SECRET}
    assert got == {
        ("apps/deploy.yaml", "secret/database-url"),
        ("other/deploy.yaml", "secret/database-url"),  # an allowance needs a reason
        ("other/deploy.yaml", "secret/stripe-secret-key"),
    }
    allowances = {(a.path, a.rule_id, a.how, a.reason) for a in report.allowances}
    assert allowances == {
        (
            "apps/deploy.yaml",
            "secret/stripe-secret-key",
            "inline comment",
            "sandbox key, test fixture",
        ),
        ("fixtures/deploy.yaml", "secret/database-url", "config: path", "secrets.allow.paths"),
        ("fixtures/deploy.yaml", "secret/stripe-secret-key", "config: path", "secrets.allow.paths"),
    }
    rendered = json.loads(json_reporter.render(report))
    assert len(rendered["allowances"]) == 3
    assert "Allowed on purpose (3):" in text.render(report)


def test_a_fingerprint_allowlist_survives_moving_the_secret(tmp_path: Path) -> None:
    first = check_tree(tmp_path / "a", {"deploy.yaml": DEPLOY})
    stripe = next(f for f in first.findings if f.rule_id == "secret/stripe-secret-key")
    moved = "# a comment that moves everything down\n" + DEPLOY
    second = check_tree(
        tmp_path / "b",
        {
            ".github/gitops-gate.yml": "secrets:\n  allow:\n"
            f"    fingerprints: [{stripe.fingerprint}]\n",
            "deploy.yaml": moved,
        },
    )
    assert {f.rule_id for f in second.findings} == {"secret/database-url"}
    assert [(a.how, a.line) for a in second.allowances] == [("config: fingerprint", 20)]


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_with_base_only_added_secrets_fail_and_old_ones_are_counted(tmp_path: Path) -> None:
    write_tree(tmp_path, {"deploy.yaml": DEPLOY})
    _git(tmp_path, "init", "-q", "-b", "main")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-qm", "base")
    env_file = f"STRIPE_API_KEY={STRIPE}\nLOG_LEVEL=info\n"
    write_tree(
        tmp_path,
        {"deploy.yaml": DEPLOY.replace("name: api\n", "name: api2\n", 1), ".env": env_file},
    )
    result = CliRunner().invoke(
        main, ["check", str(tmp_path), "--base", "main", "--format", "json"]
    )
    report = json.loads(result.output)
    secrets = [
        (f["path"], f["line"], f["rule_id"])
        for f in report["findings"]
        if f["category"] == "secret"
    ]
    assert secrets == [(".env", 1, "secret/stripe-secret-key")]  # a text file, scanned too
    assert report["summary"]["pre_existing_secrets"] == 2
    assert result.exit_code == 1
