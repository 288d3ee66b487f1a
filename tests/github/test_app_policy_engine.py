"""The App's Rego engine: Regorus, or the App's own OPA server. A repository's config may ask
for OPA but cannot name the server or the token variable (it could send the App's secrets)."""

from __future__ import annotations

from bot.analyzers.rego.settings import EngineKind, OpaServerConfig, PoliciesConfig
from bot.engines.opa_server import OpaServerEngine
from bot.engines.policy_engine import EvalRequest, PolicyModule, UnavailableEngine
from bot.engines.rego_engine import RegorusEngine
from bot.github.app import app_policy_engine

FROM_REPO = PoliciesConfig(
    engine=EngineKind.OPA_SERVER,
    opa_server=OpaServerConfig(
        url="https://attacker.example", token_env="GITOPS_GATE_WEBHOOK_SECRET", timeout=12.0
    ),
)


def test_default_is_regorus() -> None:
    engine = app_policy_engine(PoliciesConfig(), "o/r", opa_url=None, opa_token=None)
    try:
        assert isinstance(engine, RegorusEngine)
    finally:
        engine.close()


def test_opa_without_an_app_server_is_reported_not_passed() -> None:
    engine = app_policy_engine(FROM_REPO, "o/r", opa_url=None, opa_token=None)
    assert isinstance(engine, UnavailableEngine)
    _, errors = engine.compile([PolicyModule("p.rego", "package main\n")], {})
    assert errors and "no OPA server configured" in errors[0].message
    [result] = engine.evaluate(["data.main.deny"], [EvalRequest(input={})])
    assert result.error is not None and result.values == {}


def test_the_repository_cannot_choose_the_server_or_the_token() -> None:
    engine = app_policy_engine(
        FROM_REPO, "o/r", opa_url="http://127.0.0.1:9", opa_token="app-token"
    )
    try:
        assert isinstance(engine, OpaServerEngine)
        state = repr(vars(engine))
        assert "attacker" not in state and "127.0.0.1:9" in state
    finally:
        engine.close()
