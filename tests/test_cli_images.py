"""``gitops-gate check`` verifies image signatures against a real registry on loopback: the
rule and its key come from the config (the base commit's with ``--base``), credentials from the
user's registry config, and a registry that cannot be asked is never a pass."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

from click.testing import CliRunner

from bot.cli import main
from tests.images.signing import ecdsa_signer, sign_legacy
from tests.registry.plugin import RegistryHandle

SIGNER = ecdsa_signer(seed=7)
OTHER = ecdsa_signer(seed=8)


def _pod(image: str) -> str:
    return f"""\
apiVersion: v1
kind: Pod
metadata:
  name: app
spec:
  containers:
    - name: app
      image: {image}
"""


def _config(host: str, key_line: str) -> str:
    return f"""\
images:
  signatures:
    - match: ["{host}/**"]
{key_line}
      required: true
"""


def _inline_key(pem: str) -> str:
    indented = "\n".join("          " + line for line in pem.strip().splitlines())
    return f"      keys:\n        - |\n{indented}"


def _run(root: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(
        main, ["check", str(root), "--format", "json", *args], env=env or {}
    )
    report = json.loads(result.output)
    images = [f for f in report["findings"] if f["rule_id"].startswith("images/")]
    return result.exit_code, images


def _tree(root: Path, config: str, manifest: str) -> None:
    (root / ".github").mkdir(parents=True, exist_ok=True)
    (root / ".github" / "gitops-gate.yml").write_text(config)
    (root / "pod.yaml").write_text(manifest)


def test_signed_image_passes_and_unsigned_fails(
    registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    signed = registry.push_image(registry_repo, "signed", seed="signed")
    registry.push_image(registry_repo, "unsigned", seed="unsigned")
    sign_legacy(registry, registry_repo, signed.digest, SIGNER)
    config = _config(registry.host, _inline_key(SIGNER.public_pem))
    ref = f"{registry.host}/{registry_repo}"

    _tree(tmp_path / "ok", config, _pod(f"{ref}:signed@{signed.digest}"))
    code, images = _run(tmp_path / "ok")
    assert (code, images) == (0, [])

    _tree(tmp_path / "bad", config, _pod(f"{ref}:unsigned"))
    code, images = _run(tmp_path / "bad")
    assert code == 1
    rules = {f["rule_id"]: f for f in images}
    assert set(rules) == {"images/unsigned", "images/tag-without-digest"}
    unsigned = rules["images/unsigned"]
    assert unsigned["severity"] == "error" and unsigned["line"] == 8
    assert "no cosign signature" in unsigned["message"]


def test_wrong_key_is_an_invalid_signature(
    registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    image = registry.push_image(registry_repo, "v1", seed="wrong-key")
    sign_legacy(registry, registry_repo, image.digest, OTHER)
    _tree(
        tmp_path,
        _config(registry.host, _inline_key(SIGNER.public_pem)),
        _pod(f"{registry.host}/{registry_repo}@{image.digest}"),
    )
    code, images = _run(tmp_path)
    assert code == 1
    assert [f["rule_id"] for f in images] == ["images/signature-invalid"]
    assert "does not verify" in images[0]["message"]


def test_registry_credentials_come_from_the_registry_config(
    basic_registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    image = basic_registry.push_image(registry_repo, "v1", seed="basic")
    sign_legacy(basic_registry, registry_repo, image.digest, SIGNER)
    _tree(
        tmp_path / "repo",
        _config(basic_registry.host, _inline_key(SIGNER.public_pem)),
        _pod(f"{basic_registry.host}/{registry_repo}@{image.digest}"),
    )
    # Without credentials the registry refuses: "could not verify", never a pass.
    empty = tmp_path / "no-docker"
    empty.mkdir()
    code, images = _run(tmp_path / "repo", env={"DOCKER_CONFIG": str(empty)})
    assert code == 1
    assert [f["rule_id"] for f in images] == ["images/unverifiable"]
    assert images[0]["message"].startswith("Could not verify the signature of")
    assert basic_registry.password not in images[0]["message"]

    auth = base64.b64encode(f"{basic_registry.username}:{basic_registry.password}".encode())
    docker_config = tmp_path / "config.json"
    docker_config.write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth.decode()}}}))
    code, images = _run(tmp_path / "repo", env={"GITOPS_GATE_REGISTRY_CONFIG": str(docker_config)})
    assert (code, images) == (0, [])


def _git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root), *args],
        check=True,
        capture_output=True,
    )


def test_with_base_the_key_file_is_read_from_the_merge_base(
    registry: RegistryHandle, registry_repo: str, tmp_path: Path
) -> None:
    """A change that swaps the trusted key for its own and signs its own image still fails."""
    image = registry.push_image(registry_repo, "v1", seed="base-trust")
    sign_legacy(registry, registry_repo, image.digest, OTHER)  # signed by the attacker's key
    repo = tmp_path / "repo"
    config = f"""\
images:
  signatures:
    - match: ["{registry.host}/**"]
      key_files: [keys/cosign.pub]
"""
    _tree(repo, config, _pod("registry.k8s.io/pause:3.10@sha256:" + "a" * 64))
    (repo / "keys").mkdir()
    (repo / "keys" / "cosign.pub").write_text(SIGNER.public_pem)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "checkout", "-qb", "feature")
    (repo / "keys" / "cosign.pub").write_text(OTHER.public_pem)
    (repo / "pod.yaml").write_text(_pod(f"{registry.host}/{registry_repo}@{image.digest}"))
    _git(repo, "commit", "-qam", "bring my own key")

    code, images = _run(repo, "--base", "main")
    assert code == 1
    assert [f["rule_id"] for f in images] == ["images/signature-invalid"]
