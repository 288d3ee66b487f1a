"""Process settings from the environment: every variable, every message, all problems at once,
and secrets that never show."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from bot.errors import ConfigError, SettingsError
from bot.settings import Settings, load_settings

SECRET = "It's a Secret to Everybody"


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, fmt: str = "pkcs8") -> str:
    formats = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "traditional": serialization.PrivateFormat.TraditionalOpenSSL,
    }
    return key.private_bytes(
        serialization.Encoding.PEM, formats[fmt], serialization.NoEncryption()
    ).decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(rsa_key: rsa.RSAPrivateKey) -> str:
    """As GitHub issues App keys: '-----BEGIN RSA PRIVATE KEY-----' (PKCS#1)."""
    return _pem(rsa_key, "traditional")


@pytest.fixture
def env(pem: str) -> dict[str, str]:
    return {
        "GITOPS_GATE_APP_ID": "12345",
        "GITOPS_GATE_PRIVATE_KEY": pem,
        "GITOPS_GATE_WEBHOOK_SECRET": SECRET,
    }


def problems(environ: dict[str, str]) -> tuple[str, ...]:
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    return caught.value.problems


def only_problem(environ: dict[str, str]) -> str:
    found = problems(environ)
    assert len(found) == 1, found
    return found[0]


# -- defaults and every variable -------------------------------------------------------------


def test_minimal_environment_gets_the_defaults(env: dict[str, str], pem: str) -> None:
    settings = load_settings(env)
    assert settings == Settings(
        app_id=12345,
        private_key=pem.strip() + "\n",
        webhook_secret=SECRET,
        github_api_url="https://api.github.com",
        database=Path("./gitops-gate.db"),
        workers=4,
        job_deadline=600.0,
        check_drafts=True,
        private_key_source="GITOPS_GATE_PRIVATE_KEY",
    )


def test_every_variable_is_read(env: dict[str, str], tmp_path: Path) -> None:
    env |= {
        "GITOPS_GATE_GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        "GITOPS_GATE_DATABASE": str(tmp_path / "state.db"),
        "GITOPS_GATE_WORKERS": "16",
        "GITOPS_GATE_JOB_DEADLINE": "90.5",
        "GITOPS_GATE_CHECK_DRAFTS": "false",
    }
    settings = load_settings(env)
    assert settings.github_api_url == "https://ghe.example.com/api/v3"  # no trailing slash
    assert settings.database == tmp_path / "state.db"
    assert settings.workers == 16
    assert settings.job_deadline == 90.5
    assert settings.check_drafts is False


def test_settings_are_frozen(env: dict[str, str]) -> None:
    settings = load_settings(env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.workers = 8  # type: ignore[misc]


def test_empty_optional_variables_count_as_unset(env: dict[str, str]) -> None:
    env |= {name: "" for name in ("GITOPS_GATE_WORKERS", "GITOPS_GATE_GITHUB_API_URL")}
    env |= {"GITOPS_GATE_DATABASE": "  ", "GITOPS_GATE_CHECK_DRAFTS": ""}
    settings = load_settings(env)
    assert settings.workers == 4
    assert settings.github_api_url == "https://api.github.com"
    assert settings.database == Path("./gitops-gate.db")
    assert settings.check_drafts is True


@pytest.mark.parametrize(
    "url",
    [
        "https://api.github.com",
        "https://github.example.com/api/v3",
        "http://127.0.0.1:8080",
        "HTTPS://API.GITHUB.COM",
    ],
)
def test_api_urls_accepted(env: dict[str, str], url: str) -> None:
    env["GITOPS_GATE_GITHUB_API_URL"] = url
    assert load_settings(env).github_api_url == url


@pytest.mark.parametrize(
    ("word", "value"),
    [
        *[("true", True), ("TRUE", True), ("1", True), ("yes", True), ("on", True)],
        *[("false", False), ("False", False), ("0", False), ("no", False), ("off", False)],
    ],
)
def test_check_drafts_words(env: dict[str, str], word: str, value: bool) -> None:
    env["GITOPS_GATE_CHECK_DRAFTS"] = word
    assert load_settings(env).check_drafts is value


@pytest.mark.parametrize("workers", ["1", "64", " 8 "])
def test_workers_bounds_accepted(env: dict[str, str], workers: str) -> None:
    env["GITOPS_GATE_WORKERS"] = workers
    assert load_settings(env).workers == int(workers)


def test_deadline_accepts_integers(env: dict[str, str]) -> None:
    env["GITOPS_GATE_JOB_DEADLINE"] = "30"
    assert load_settings(env).job_deadline == 30.0


# -- the private key ---------------------------------------------------------------------------


def test_key_with_literal_backslash_n_escapes(env: dict[str, str], pem: str) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = pem.strip().replace("\n", "\\n")
    assert "\n" not in env["GITOPS_GATE_PRIVATE_KEY"]
    assert load_settings(env).private_key == pem.strip() + "\n"


def test_key_with_crlf_and_quotes(env: dict[str, str], pem: str) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = '"' + pem.replace("\n", "\r\n") + '"'
    assert load_settings(env).private_key == pem.strip() + "\n"


def test_pkcs8_key_is_accepted(env: dict[str, str], rsa_key: rsa.RSAPrivateKey) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = _pem(rsa_key, "pkcs8")
    assert "BEGIN PRIVATE KEY" in load_settings(env).private_key


def test_key_from_a_file(env: dict[str, str], pem: str, tmp_path: Path) -> None:
    path = tmp_path / "app.pem"
    path.write_text(pem)
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(path)
    settings = load_settings(env)
    assert settings.private_key == pem.strip() + "\n"
    assert settings.private_key_source == f"GITOPS_GATE_PRIVATE_KEY_FILE ({path})"


def test_both_key_variables(env: dict[str, str], tmp_path: Path, pem: str) -> None:
    (tmp_path / "app.pem").write_text(pem)
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(tmp_path / "app.pem")
    assert only_problem(env) == (
        "set only one of GITOPS_GATE_PRIVATE_KEY and GITOPS_GATE_PRIVATE_KEY_FILE, not both"
    )


def test_no_key_variable(env: dict[str, str]) -> None:
    del env["GITOPS_GATE_PRIVATE_KEY"]
    assert only_problem(env) == (
        "GITOPS_GATE_PRIVATE_KEY (PEM text) or GITOPS_GATE_PRIVATE_KEY_FILE (a path) is "
        "required: the GitHub App's private key"
    )


def test_empty_key_variable_is_missing(env: dict[str, str]) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = "   "
    assert "is required" in only_problem(env)


def test_missing_key_file(env: dict[str, str], tmp_path: Path) -> None:
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(tmp_path / "absent.pem")
    assert only_problem(env) == (
        f"GITOPS_GATE_PRIVATE_KEY_FILE ({tmp_path / 'absent.pem'}): cannot be read: "
        "No such file or directory"
    )


def test_key_file_is_a_directory(env: dict[str, str], tmp_path: Path) -> None:
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(tmp_path)
    assert only_problem(env) == (
        f"GITOPS_GATE_PRIVATE_KEY_FILE ({tmp_path}): is a directory, not a PEM file"
    )


def test_key_file_too_large(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "huge.pem"
    path.write_bytes(b"A" * (64 * 1024 + 1))
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(path)
    assert only_problem(env).endswith("larger than 65536 bytes; not a PEM key file")


def test_key_file_binary(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "app.der"
    path.write_bytes(b"\x30\x82\x04\xa4\xff\xfe")
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(path)
    assert only_problem(env).endswith("not a PEM text file (non-ASCII bytes)")


def test_key_that_is_not_pem(env: dict[str, str]) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ hunter2"
    message = only_problem(env)
    assert message.startswith("GITOPS_GATE_PRIVATE_KEY: not PEM text")
    assert "hunter2" not in message and "AAAAB3" not in message


def test_damaged_key(env: dict[str, str], pem: str) -> None:
    lines = pem.strip().splitlines()
    env["GITOPS_GATE_PRIVATE_KEY"] = "\n".join([*lines[:5], *lines[-1:]])  # body cut short
    message = only_problem(env)
    assert message.startswith("GITOPS_GATE_PRIVATE_KEY: cannot be parsed as a PEM private key")
    assert lines[2] not in message


def test_public_key_instead_of_private(env: dict[str, str], rsa_key: rsa.RSAPrivateKey) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = (
        rsa_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    assert only_problem(env) == (
        "GITOPS_GATE_PRIVATE_KEY: is a public key; the App needs its private key"
    )


def test_encrypted_key(env: dict[str, str], rsa_key: rsa.RSAPrivateKey) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = rsa_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    assert only_problem(env) == (
        "GITOPS_GATE_PRIVATE_KEY: is encrypted with a passphrase; provide the unencrypted key "
        "GitHub issued"
    )


def test_ec_key_is_not_rsa(env: dict[str, str]) -> None:
    env["GITOPS_GATE_PRIVATE_KEY"] = _pem(ec.generate_private_key(ec.SECP256R1()))
    assert only_problem(env) == (
        "GITOPS_GATE_PRIVATE_KEY: is an EC key, not an RSA key; GitHub App keys are RSA (RS256)"
    )


def test_bad_key_in_a_file_names_the_file(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "app.pem"
    path.write_text(
        "-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n"
    )
    del env["GITOPS_GATE_PRIVATE_KEY"]
    env["GITOPS_GATE_PRIVATE_KEY_FILE"] = str(path)
    message = only_problem(env)
    assert message.startswith(f"GITOPS_GATE_PRIVATE_KEY_FILE ({path}): cannot be parsed")
    assert "bm90IGEga2V5" not in message


# -- other errors, one by one --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "GITOPS_GATE_APP_ID is required (the GitHub App's numeric id)"),
        ("", "GITOPS_GATE_APP_ID is required (the GitHub App's numeric id)"),
        ("abc", "GITOPS_GATE_APP_ID must be a positive integer, got 'abc'"),
        ("0", "GITOPS_GATE_APP_ID must be a positive integer, got '0'"),
        ("-5", "GITOPS_GATE_APP_ID must be a positive integer, got '-5'"),
        ("1.5", "GITOPS_GATE_APP_ID must be a positive integer, got '1.5'"),
        ("١٢", "GITOPS_GATE_APP_ID must be a positive integer, got '١٢'"),  # non-ASCII digits
    ],
)
def test_app_id_errors(env: dict[str, str], value: str | None, message: str) -> None:
    if value is None:
        del env["GITOPS_GATE_APP_ID"]
    else:
        env["GITOPS_GATE_APP_ID"] = value
    assert only_problem(env) == message


def test_app_id_with_spaces(env: dict[str, str]) -> None:
    env["GITOPS_GATE_APP_ID"] = " 42\n"
    assert load_settings(env).app_id == 42


def test_webhook_secret_missing(env: dict[str, str]) -> None:
    del env["GITOPS_GATE_WEBHOOK_SECRET"]
    assert only_problem(env) == "GITOPS_GATE_WEBHOOK_SECRET is required (the App's webhook secret)"


def test_webhook_secret_empty(env: dict[str, str]) -> None:
    env["GITOPS_GATE_WEBHOOK_SECRET"] = ""
    assert only_problem(env) == (
        "GITOPS_GATE_WEBHOOK_SECRET is empty; set it to the App's webhook secret"
    )


def test_webhook_secret_is_kept_exactly(env: dict[str, str]) -> None:
    env["GITOPS_GATE_WEBHOOK_SECRET"] = " spaced secret "
    assert load_settings(env).webhook_secret == " spaced secret "


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://api.github.com",
            "GITOPS_GATE_GITHUB_API_URL must be an http(s) URL such as https://api.github.com "
            "or https://HOST/api/v3 for GitHub Enterprise Server, got 'ftp://api.github.com'",
        ),
        (
            "api.github.com",
            "GITOPS_GATE_GITHUB_API_URL must be an http(s) URL such as https://api.github.com "
            "or https://HOST/api/v3 for GitHub Enterprise Server, got 'api.github.com'",
        ),
        ("https:///api/v3", "GITOPS_GATE_GITHUB_API_URL has no host: 'https:///api/v3'"),
        (
            "https://ghe.example.com:99999/api/v3",
            "GITOPS_GATE_GITHUB_API_URL is not a valid URL: 'https://ghe.example.com:99999/api/v3'",
        ),
        (
            "https://user:hunter2@ghe.example.com/api/v3",
            "GITOPS_GATE_GITHUB_API_URL must not contain credentials: "
            "'https://***@ghe.example.com/api/v3'",
        ),
        (
            "https://ghe.example.com/api/v3?x=1",
            "GITOPS_GATE_GITHUB_API_URL must not have a query or a fragment: "
            "'https://ghe.example.com/api/v3?x=1'",
        ),
    ],
)
def test_api_url_errors(env: dict[str, str], url: str, message: str) -> None:
    env["GITOPS_GATE_GITHUB_API_URL"] = url
    assert only_problem(env) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "GITOPS_GATE_WORKERS must be between 1 and 64, got 0"),
        ("65", "GITOPS_GATE_WORKERS must be between 1 and 64, got 65"),
        ("four", "GITOPS_GATE_WORKERS must be an integer between 1 and 64, got 'four'"),
        ("2.5", "GITOPS_GATE_WORKERS must be an integer between 1 and 64, got '2.5'"),
    ],
)
def test_workers_errors(env: dict[str, str], value: str, message: str) -> None:
    env["GITOPS_GATE_WORKERS"] = value
    assert only_problem(env) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "GITOPS_GATE_JOB_DEADLINE must be a number of seconds, got 'soon'"),
        ("0", "GITOPS_GATE_JOB_DEADLINE must be more than 0 and at most 86400 seconds, got '0'"),
        ("-1", "GITOPS_GATE_JOB_DEADLINE must be more than 0 and at most 86400 seconds, got '-1'"),
        (
            "inf",
            "GITOPS_GATE_JOB_DEADLINE must be more than 0 and at most 86400 seconds, got 'inf'",
        ),
        (
            "nan",
            "GITOPS_GATE_JOB_DEADLINE must be more than 0 and at most 86400 seconds, got 'nan'",
        ),
        (
            "86401",
            "GITOPS_GATE_JOB_DEADLINE must be more than 0 and at most 86400 seconds, got '86401'",
        ),
    ],
)
def test_deadline_errors(env: dict[str, str], value: str, message: str) -> None:
    env["GITOPS_GATE_JOB_DEADLINE"] = value
    assert only_problem(env) == message


def test_check_drafts_error(env: dict[str, str]) -> None:
    env["GITOPS_GATE_CHECK_DRAFTS"] = "maybe"
    assert only_problem(env) == (
        "GITOPS_GATE_CHECK_DRAFTS must be true or false (also 1/0, yes/no, on/off), got 'maybe'"
    )


# -- all problems at once, and secrets never shown -------------------------------------------


def test_every_problem_is_reported_together() -> None:
    environ = {
        "GITOPS_GATE_APP_ID": "x",
        "GITOPS_GATE_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA "
        "PRIVATE KEY-----",
        "GITOPS_GATE_WEBHOOK_SECRET": "",
        "GITOPS_GATE_GITHUB_API_URL": "ftp://x",
        "GITOPS_GATE_WORKERS": "100",
        "GITOPS_GATE_JOB_DEADLINE": "-3",
        "GITOPS_GATE_CHECK_DRAFTS": "perhaps",
    }
    with pytest.raises(SettingsError) as caught:
        load_settings(environ)
    error = caught.value
    assert isinstance(error, ConfigError)
    assert [p.split()[0].rstrip(":") for p in error.problems] == [
        "GITOPS_GATE_APP_ID",
        "GITOPS_GATE_PRIVATE_KEY",
        "GITOPS_GATE_WEBHOOK_SECRET",
        "GITOPS_GATE_GITHUB_API_URL",
        "GITOPS_GATE_WORKERS",
        "GITOPS_GATE_JOB_DEADLINE",
        "GITOPS_GATE_CHECK_DRAFTS",
    ]
    text = str(error)
    assert text.startswith("invalid settings (7 problems):\n  - GITOPS_GATE_APP_ID")
    assert all(f"  - {p}" in text for p in error.problems)
    assert "c2VjcmV0" not in text


def test_empty_environment_lists_the_three_required() -> None:
    assert problems({}) == (
        "GITOPS_GATE_APP_ID is required (the GitHub App's numeric id)",
        "GITOPS_GATE_PRIVATE_KEY (PEM text) or GITOPS_GATE_PRIVATE_KEY_FILE (a path) is "
        "required: the GitHub App's private key",
        "GITOPS_GATE_WEBHOOK_SECRET is required (the App's webhook secret)",
    )


def test_single_problem_message() -> None:
    error = SettingsError(["one thing"])
    assert str(error) == "invalid settings (1 problem):\n  - one thing"


def test_repr_and_str_never_show_the_key_or_secret(env: dict[str, str], pem: str) -> None:
    settings = load_settings(env)
    body = "".join(pem.strip().splitlines()[1:-1])
    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert SECRET not in text
        assert "PRIVATE KEY" not in text
        assert body[:40] not in text and pem.splitlines()[1] not in text
        assert text.count("<redacted>") == 2
        assert "app_id=12345" in text and "workers=4" in text


def test_errors_never_show_the_secret_or_key(env: dict[str, str], pem: str) -> None:
    env |= {"GITOPS_GATE_APP_ID": "nope", "GITOPS_GATE_PRIVATE_KEY_FILE": "/x"}
    with pytest.raises(SettingsError) as caught:
        load_settings(env)
    text = str(caught.value)
    assert SECRET not in text
    assert pem.splitlines()[1] not in text


def test_retry_base_delay(env: dict[str, str]) -> None:
    assert load_settings(env).retry_base_delay == 0.5
    assert load_settings({**env, "GITOPS_GATE_RETRY_BASE_DELAY": "0.05"}).retry_base_delay == 0.05
    for bad in ("0", "-1", "61", "nan"):
        message = only_problem({**env, "GITOPS_GATE_RETRY_BASE_DELAY": bad})
        assert message.startswith("GITOPS_GATE_RETRY_BASE_DELAY must be more than 0")
    message = only_problem({**env, "GITOPS_GATE_RETRY_BASE_DELAY": "soon"})
    assert message == "GITOPS_GATE_RETRY_BASE_DELAY must be a number of seconds, got 'soon'"
