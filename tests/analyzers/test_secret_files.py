"""scan_file: every secret of one loaded file at the 1-based line and column of its value, with
the resource it belongs to; nothing for the right ways of keeping secrets in Git.

Values here are made up for the tests; none is a real credential.
"""

from __future__ import annotations

import base64
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bot.analyzers.secrets import families
from bot.analyzers.secrets.model import FileHit
from bot.analyzers.secrets.scanfile import scan_file
from bot.core.document import load_text
from bot.core.filekind import FileKind


def scan(path: str, text: str, kind: FileKind = FileKind.MANIFEST) -> list[FileHit]:
    return scan_file(load_text(path, text, kind))


def got(path: str, text: str, kind: FileKind = FileKind.MANIFEST) -> list[tuple[int, int, str]]:
    return [(h.line, h.column, h.family.id) for h in scan(path, text, kind)]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def pem_private_key() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


DEPLOYMENT_HEAD = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: shop
spec:
  template:
    spec:
      containers:
        - name: api
          image: example/api:1.0
"""

# --------------------------------------------------------------------------------------------
# Generic assignments in YAML


def test_env_password_split_across_name_and_value_lines() -> None:
    text = DEPLOYMENT_HEAD + (
        "          env:\n"  # 12
        "            - name: DB_PASSWORD\n"  # 13
        "              value: s3cr3t-Db\n"  # 14
        "            - name: DB_PASSWORD_REF\n"  # 15
        "              valueFrom:\n"  # 16
        "                secretKeyRef: {name: db, key: password}\n"  # 17
        "            - name: TOKEN_TTL\n"  # 18
        '              value: "3600"\n'  # 19
    )
    hits = scan("deploy.yaml", text)
    assert [(h.line, h.column, h.family.id) for h in hits] == [(14, 22, "generic-password")]
    assert (hits[0].api_version, hits[0].kind, hits[0].namespace, hits[0].name) == (
        "apps/v1",
        "Deployment",
        "shop",
        "api",
    )
    assert hits[0].key == "DB_PASSWORD"


def test_value_from_is_a_reference_never_a_secret() -> None:
    text = DEPLOYMENT_HEAD + (
        "          env:\n"
        "            - name: DB_PASSWORD\n"
        "              valueFrom:\n"
        "                secretKeyRef:\n"
        "                  name: db\n"
        "                  key: password\n"
    )
    assert got("deploy.yaml", text) == []


def test_args_flag_pairs_and_equals_form() -> None:
    text = DEPLOYMENT_HEAD + (
        '          args: ["--password", "Xk9mP2q7"]\n'  # 12
        "          command:\n"  # 13
        "            - /bin/server\n"  # 14
        "            - --db-password=Hj7kL0pw\n"  # 15
        "            - --token-file=/var/run/token\n"  # 16
    )
    assert got("deploy.yaml", text) == [(12, 33, "generic-password"), (15, 29, "generic-password")]


def test_helm_values_nested_and_dotted_keys() -> None:
    text = (
        "auth:\n"  # 1
        '  password: "Tr0ub4dor-3"\n'  # 2
        '  existingSecret: ""\n'  # 3
        "  username: app\n"  # 4
        "redis:\n"  # 5
        "  auth.password: Qz8vLm2x\n"  # 6
        "  enabled: true\n"  # 7
    )
    assert got("values.yaml", text, FileKind.HELM_VALUES) == [
        (2, 14, "generic-password"),
        (6, 18, "generic-password"),
    ]


def test_token_api_key_and_client_secret_families() -> None:
    text = (
        "config:\n"
        "  apiKey: 9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c\n"
        "  client_secret: q8Zr2Lm4Tx7Vb1Np\n"
        "  accessToken: AbC1dEf2GhI3jKl4MnO5\n"
    )
    assert got("app.yaml", text) == [
        (2, 11, "generic-api-key"),
        (3, 18, "generic-secret"),
        (4, 16, "generic-token"),
    ]


def test_configuration_keys_that_name_credentials_are_skipped() -> None:
    text = (
        "TOKEN_TTL: 3600s\n"
        "PASSWORD_MIN_LENGTH: 12\n"
        "SECRET_NAME: db-credentials-v2\n"
        "TOKEN_ENDPOINT: https://auth.example.com/oauth/token\n"
        "API_KEY_HEADER: X-Api-Key-Header\n"
        "DB_PASSWORD_FILE: /run/secrets/db-password\n"
        "TOKEN_PATH: /var/run/secrets/token\n"
        "AUTH_URL: https://login.example.com/authorize\n"
        "secretName: tls-cert\n"
        "usePassword: true\n"
        "checksum/secret: 4f5a1c2e9b8d7f6a5c4b3a2918f7e6d5c4b3a2918f7e6d5c4b3a2918f7e6d5c4\n"
    )
    assert got("config.yaml", text) == []


def test_placeholders_and_references_are_not_findings() -> None:
    text = (
        "password: changeme\n"
        "db_password: ${DB_PASSWORD}\n"
        "api_key: <your-api-key>\n"
        'token: "{{ .Values.token }}"\n'
        "secret: REPLACE_ME\n"
        'client_secret: ""\n'
        "admin_password: '********'\n"
    )
    assert got("values.yaml", text, FileKind.HELM_VALUES) == []


def test_block_scalar_value_line_precision() -> None:
    text = (
        "apiVersion: v1\n"  # 1
        "kind: ConfigMap\n"  # 2
        "metadata:\n"  # 3
        "  name: app-config\n"  # 4
        "data:\n"  # 5
        "  application.properties: |\n"  # 6
        "    server.port=8080\n"  # 7
        "    spring.datasource.username=app\n"  # 8
        "    spring.datasource.password=Kq8vZ2mW\n"  # 9
        "    logging.level.root=INFO\n"  # 10
    )
    hits = scan("cm.yaml", text)
    assert [(h.line, h.column, h.family.id) for h in hits] == [(9, 32, "generic-password")]
    assert (hits[0].kind, hits[0].name) == ("ConfigMap", "app-config")


def test_json_file() -> None:
    text = '{\n  "database": {\n    "host": "db",\n    "password": "Jk3mLp9z"\n  }\n}\n'
    assert got("settings.json", text) == [(4, 18, "generic-password")]


# --------------------------------------------------------------------------------------------
# Other file formats


def test_dotenv_file() -> None:
    text = (
        "# app settings\n"
        "DB_PASSWORD=Zx9vB7qW # rotated monthly\n"
        "TOKEN_TTL=3600\n"
        'export API_KEY="a8F3k2L9q0W7e6R5"\n'
        "DB_PASSWORD_FILE=/run/secrets/db\n"
        "SECRET_KEY=${SECRET_KEY}\n"
    )
    assert got(".env", text, FileKind.TEXT) == [
        (2, 13, "generic-password"),
        (4, 17, "generic-api-key"),
    ]


def test_terraform_file() -> None:
    text = (
        'resource "aws_db_instance" "db" {\n'
        '  username = "app"\n'
        '  password = "Pq7xLm2xW"\n'
        "}\n"
        'resource "aws_db_instance" "other" {\n'
        "  password = var.db_password\n"
        "}\n"
        'resource "aws_db_instance" "third" {\n'
        "  password = random_password.db.result\n"
        "}\n"
    )
    assert got("main.tf", text, FileKind.TEXT) == [(3, 15, "generic-password")]


def test_terraform_variable_default_is_judged_by_the_variable_name() -> None:
    text = (
        'variable "db_password" {\n'  # 1
        "  type      = string\n"  # 2
        "  sensitive = true\n"  # 3
        '  default   = "Zq7!xLm2vW9p"\n'  # 4
        "}\n"  # 5
        'variable "cloudflare_api_key" { default = "873b93bf96ff94fe6bf6874c2a52eafd2fc83" }\n'
        'variable "internal_token" {\n'  # 7
        '  description = "the token"\n'  # 8
        '  default     = "7VNVqWEuvfNuoV_ACt4c6OHs3aYGIx_Yonh2"\n'  # 9
        "}\n"  # 10
    )
    assert got("variables.tf", text, FileKind.TEXT) == [
        (4, 16, "generic-password"),
        (6, 44, "cloudflare-api-key"),
        (9, 18, "generic-token"),
    ]


def test_terraform_variable_defaults_that_are_not_credentials() -> None:
    text = (
        'variable "password_length" { default = "24" }\n'
        'variable "db_password_secret_name" { default = "db-credentials-v2" }\n'
        'variable "admin_password" { default = "" }\n'
        'variable "api_token" { default = "REPLACE_ME" }\n'
        'variable "region" { default = "eu-west-1" }\n'
        'variable "image_tag" {\n'
        '  default = "Zq7xLm2vW9pKq8rT"\n'
        "}\n"
        'variable "signing_key" {\n'
        "  validation {\n"
        "    condition = length(var.signing_key) > 0\n"
        "  }\n"
        "}\n"
        'variable "theme" { default = "Xk9pL2vQ7sWm4TnR" }\n'
    )
    assert got("variables.tf", text, FileKind.TEXT) == []


def test_admin_master_and_secret_key_names() -> None:
    text = (
        "ALGOLIA_ADMIN_KEY=L2qrt0KGrLqWE3JaDMOQhkj7steVMQAv\n"  # 1
        "MEILI_MASTER_KEY=Hq9vZ2mW8xPqTtLm4Tx7\n"  # 2
        "DJANGO_SECRET_KEY=p4Lq9vZ2mW8xPqTt7Vb1Np\n"  # 3
        "ALGOLIA_ADMIN_KEY_ID=42\n"  # 4: configuration, not the key
        "ADMIN_KEY_PATH=/etc/keys/admin.pem\n"  # 5
    )
    assert got(".env", text, FileKind.TEXT) == [
        (1, 19, "generic-api-key"),
        (2, 18, "generic-api-key"),
        (3, 19, "generic-secret"),
    ]


def test_properties_file() -> None:
    text = (
        "server.port=8080\n"
        "spring.datasource.password=Wq4Er6tY\n"
        "spring.datasource.password-file=/etc/db\n"
    )
    assert got("application.properties", text, FileKind.TEXT) == [(2, 28, "generic-password")]


def test_ini_file() -> None:
    text = "[db]\nhost = db.internal\npassword = Vb5Nm1qZ ; prod\n"
    assert got("app.ini", text, FileKind.TEXT) == [(3, 12, "generic-password")]


# --------------------------------------------------------------------------------------------
# Kubernetes Secrets

SECRET_HEAD = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n"


def test_secret_with_three_keys_gives_three_findings_at_their_lines() -> None:
    text = SECRET_HEAD + (
        "type: Opaque\n"  # 6
        "data:\n"  # 7
        f"  password: {b64('Zq8vLm2xKp')}\n"  # 8
        f"  api-key: {b64('k3Lq9vZ2mW8xPq')}\n"  # 9
        f"  token: {b64('t0KenV4lue77Q')}\n"  # 10
    )
    hits = scan("secret.yaml", text)
    assert [(h.line, h.column, h.family.id) for h in hits] == [
        (8, 13, "kubernetes-secret"),
        (9, 12, "kubernetes-secret"),
        (10, 10, "kubernetes-secret"),
    ]
    assert all((h.kind, h.name, h.namespace) == ("Secret", "db", "shop") for h in hits)
    assert [h.key for h in hits] == ["password", "api-key", "token"]


def test_secret_string_data_hex_admin_key() -> None:
    text = SECRET_HEAD + (
        "type: Opaque\n"  # 6
        "stringData:\n"  # 7
        "  ALGOLIA_ADMIN_KEY: ab7f5daec7be99afdd5050099b3f2ada4488f6d2\n"  # 8
        "  git-revision: 4488f6d2ab7f5daec7be99afdd5050099b3f2ada\n"  # 9: a commit SHA
    )
    assert got("secret.yaml", text) == [(8, 22, "kubernetes-secret")]


def test_secret_string_data_skips_empty_and_templated_values() -> None:
    text = SECRET_HEAD + (
        "stringData:\n"  # 6
        "  password: hunter2-Prod\n"  # 7
        '  empty: ""\n'  # 8
        '  templated: "{{ .Values.dbPassword }}"\n'  # 9
        "  username: app\n"  # 10
    )
    assert got("secret.yaml", text) == [(7, 13, "kubernetes-secret")]


def test_secret_base64_placeholder_is_not_a_finding() -> None:
    text = SECRET_HEAD + f"data:\n  password: {b64('changeme')}\n  token: ''\n"
    assert got("secret.yaml", text) == []


def test_secret_base64_pem_private_key_is_reported_as_a_private_key() -> None:
    pem = pem_private_key()
    expected = families.scan(pem)
    assert expected, "families must recognise a real PEM private key"
    cert = b64("-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpegPjMC\n-----END CERTIFICATE-----\n")
    text = SECRET_HEAD + (
        "type: kubernetes.io/tls\n"  # 6
        "data:\n"  # 7
        f"  tls.crt: {cert}\n"  # 8
        f"  tls.key: {b64(pem)}\n"  # 9
    )
    assert got("tls.yaml", text) == [(9, 12, expected[0].family.id)]


def test_secret_string_data_block_scalar_points_at_the_credential_line() -> None:
    text = SECRET_HEAD + (
        "stringData:\n"  # 6
        "  config.yaml: |\n"  # 7
        "    database:\n"  # 8
        "      host: db\n"  # 9
        "      password: Mz7kQ2vLx\n"  # 10
    )
    assert got("secret.yaml", text) == [(10, 17, "kubernetes-secret")]


def test_service_account_token_stub_is_not_a_finding() -> None:
    text = (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata:\n"
        "  name: build-robot\n"
        "  annotations:\n"
        "    kubernetes.io/service-account.name: build-robot\n"
        "type: kubernetes.io/service-account-token\n"
    )
    assert got("sa.yaml", text) == []


def test_docker_config_json_auths_are_inspected() -> None:
    config = {"auths": {"registry.example.com": {"auth": b64("robot:Zq8vLm2xKp7")}}}
    text = SECRET_HEAD + (
        "type: kubernetes.io/dockerconfigjson\n"  # 6
        "data:\n"  # 7
        f"  .dockerconfigjson: {b64(json.dumps(config))}\n"  # 8
    )
    hits = scan("pull.yaml", text)
    assert [(h.line, h.column, h.family.id) for h in hits] == [(8, 22, "docker-config-auth")]


def test_docker_config_with_only_credential_helpers_is_not_a_finding() -> None:
    config = {"credHelpers": {"123.dkr.ecr.eu-west-1.amazonaws.com": "ecr-login"}, "auths": {}}
    text = SECRET_HEAD + (
        "type: kubernetes.io/dockerconfigjson\n"
        "data:\n"
        f"  .dockerconfigjson: {b64(json.dumps(config))}\n"
    )
    assert got("pull.yaml", text) == []


def test_docker_config_in_string_data_points_at_the_auth_value() -> None:
    text = (
        SECRET_HEAD
        + (
            "type: kubernetes.io/dockerconfigjson\n"  # 6
            "stringData:\n"  # 7
            "  .dockerconfigjson: |\n"  # 8
            "    {\n"  # 9
            '      "auths": {\n'  # 10
            '        "ghcr.io": {"auth": "' + b64("bot:Wq4Er6tYu") + '"}\n'  # 11
            "      }\n"
            "    }\n"
        )
    )
    assert got("pull.yaml", text) == [(11, 30, "docker-config-auth")]


KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
  - name: prod
    cluster:
      server: https://k8s.example.com
      certificate-authority-data: {ca}
users:
  - name: admin
    user:
      client-certificate-data: {ca}
      client-key-data: {key}
  - name: robot
    user:
      token: Qm9iVG9rZW4tN3g5WjJr
  - name: basic
    user:
      username: admin
      password: Pz8xKq2mVb
  - name: sso
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1
        command: aws
        args: ["eks", "get-token", "--cluster-name", "prod"]
"""


def test_kubeconfig_user_credentials() -> None:
    ca = b64("-----BEGIN CERTIFICATE-----\nMIIBkTCB+wIJAKHBfpegPjMC\n-----END CERTIFICATE-----\n")
    key = base64.b64encode(bytes(range(200, 256)) * 3).decode()  # opaque key bytes
    text = KUBECONFIG.replace("{ca}", ca).replace("{key}", key)
    assert got("kubeconfig.yaml", text) == [
        (12, 24, "kubeconfig-credential"),
        (15, 14, "kubeconfig-credential"),
        (19, 17, "kubeconfig-credential"),
    ]


def test_kubeconfig_kubeadm_bootstrap_token() -> None:
    text = (
        "apiVersion: v1\n"  # 1
        "kind: Config\n"  # 2
        "users:\n"  # 3
        "  - name: kubelet-bootstrap\n"  # 4
        "    user:\n"  # 5
        "      token: sfihmv.wlz08sfmjo8qsply\n"  # 6
        "  - name: docs\n"  # 7
        "    user:\n"  # 8
        "      token: 07401b.f395accd246ae52d\n"  # 9: the Kubernetes documentation's
        "  - name: kubeadm-default\n"  # 10
        "    user:\n"  # 11
        "      token: abcdef.0123456789abcdef\n"  # 12: kubeadm's placeholder
    )
    assert got("bootstrap-kubeconfig.yaml", text) == [(6, 14, "kubeconfig-credential")]


# --------------------------------------------------------------------------------------------
# The right way: never findings


def test_sealed_secret_has_no_findings() -> None:
    text = (
        "apiVersion: bitnami.com/v1alpha1\n"
        "kind: SealedSecret\n"
        "metadata:\n"
        "  name: db\n"
        "  annotations:\n"
        "    note: ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5" + "\n"
        "spec:\n"
        "  encryptedData:\n"
        "    password: AgBy3i4OJSWK+PiTySYZZA9rO43cGDEq8Zq8vLm2xKp7Lm2xKp7Qz8vLm2xKpW==\n"
        "    api_key: AgCx9vLm2xKp7Qz8vLm2xKp7Lm2xKp7Qz8vLm2xKpAgBy3i4OJSWK+PiTySYZZ==\n"
        "  template:\n"
        "    metadata:\n"
        "      name: db\n"
    )
    assert got("sealed.yaml", text) == []


def test_external_secret_stores_and_provider_class_have_no_findings() -> None:
    text = (
        "apiVersion: external-secrets.io/v1beta1\n"
        "kind: ExternalSecret\n"
        "metadata:\n"
        "  name: db\n"
        "spec:\n"
        "  secretStoreRef: {name: vault, kind: ClusterSecretStore}\n"
        "  data:\n"
        "    - secretKey: password\n"
        "      remoteRef: {key: prod/db, property: password}\n"
        "---\n"
        "apiVersion: external-secrets.io/v1beta1\n"
        "kind: ClusterSecretStore\n"
        "metadata:\n"
        "  name: vault\n"
        "spec:\n"
        "  provider:\n"
        "    vault:\n"
        "      server: https://vault.example.com\n"
        "      auth:\n"
        "        tokenSecretRef: {name: vault-token, key: token}\n"
        "---\n"
        "apiVersion: secrets-store.csi.x-k8s.io/v1\n"
        "kind: SecretProviderClass\n"
        "metadata:\n"
        "  name: azure-kv\n"
        "spec:\n"
        "  provider: azure\n"
        "  parameters:\n"
        "    clientSecret: Qz8vLm2xKp7Lm2xKp7Wq\n"
    )
    assert got("external.yaml", text) == []


def test_vault_agent_annotations_and_ca_bundle_are_not_findings() -> None:
    text = DEPLOYMENT_HEAD.replace(
        "  template:\n",
        "  template:\n"
        "    metadata:\n"
        "      annotations:\n"
        '        vault.hashicorp.com/agent-inject: "true"\n'
        "        vault.hashicorp.com/agent-inject-secret-db: database/creds/app\n"
        "        vault.hashicorp.com/agent-inject-template-db: |\n"
        '          {{- with secret "database/creds/app" -}}\n'
        "          postgres://{{ .Data.username }}:{{ .Data.password }}@db:5432/app\n"
        "          {{- end }}\n",
    ) + (
        "---\n"
        "apiVersion: admissionregistration.k8s.io/v1\n"
        "kind: ValidatingWebhookConfiguration\n"
        "metadata:\n"
        "  name: hook\n"
        "webhooks:\n"
        "  - name: hook.example.com\n"
        "    clientConfig:\n"
        "      caBundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSg==\n"
    )
    assert got("deploy.yaml", text) == []


ENC_A = "ENC[AES256_GCM,data:q8Zr2Lm4Tx7Vb1Np,iv:aXZpdml2aXZp,tag:dGFndGFn,type:str]"
ENC_B = "ENC[AES256_GCM,data:k3Lq9vZ2mW8xPqTt,iv:aXZpdml2aXZp,tag:dGFndGFn,type:str]"
SOPS_META = """sops:
    kms: []
    age:
        - recipient: age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
            YWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBxeXl6
            -----END AGE ENCRYPTED FILE-----
    lastmodified: "2024-05-01T10:00:00Z"
    mac: ENC[AES256_GCM,data:Zm9vYmFyYmF6,iv:aXZpdml2,tag:dGFndGFn,type:str]
    encrypted_regex: ^(data|stringData)$
    version: 3.8.1
"""


def test_sops_encrypted_secret_has_no_findings() -> None:
    text = (
        SECRET_HEAD
        + ("type: Opaque\nstringData:\n    password: " + ENC_A + "\n    api_key: " + ENC_B + "\n")
        + SOPS_META
    )
    assert got("secret.enc.yaml", text) == []


def test_sops_file_with_one_unencrypted_password_reports_exactly_that_one() -> None:
    text = (
        SECRET_HEAD
        + (
            "type: Opaque\n"  # 6
            "stringData:\n"  # 7
            "    password: Zq8vLm2xKp\n"  # 8
            "    api_key: " + ENC_B + "\n"
        )
        + SOPS_META
    )
    assert got("secret.enc.yaml", text) == [(8, 15, "sops-unencrypted-value")]


def test_sops_values_outside_the_encrypted_regex_are_left_alone() -> None:
    text = (
        "apiVersion: v1\n"
        "kind: ConfigMap\n"
        "metadata:\n"
        "  name: app\n"
        "  annotations:\n"
        "    db_password_unencrypted: Zq8vLm2xKp\n"
        "data:\n"
        "  password: " + ENC_A + "\n"
    ) + SOPS_META.replace("    encrypted_regex: ^(data|stringData)$\n", "")
    assert got("cm.enc.yaml", text) == []


def test_sops_dotenv_with_an_unencrypted_password() -> None:
    text = (
        "DB_HOST=ENC[AES256_GCM,data:ZGJob3N0,iv:aXZpdml2aXZp,tag:dGFndGFn,type:str]\n"
        "DB_PASSWORD=Zq8vLm2xKp\n"
        "API_KEY=" + ENC_B + "\n"
        "sops_mac=ENC[AES256_GCM,data:Zm9vYmFyYmF6,iv:aXZpdml2,tag:dGFndGFn,type:str]\n"
        "sops_lastmodified=2024-05-01T10:00:00Z\n"
        "sops_version=3.8.1\n"
    )
    assert got("prod.env", text, FileKind.TEXT) == [(2, 13, "sops-unencrypted-value")]


# --------------------------------------------------------------------------------------------
# Text-level hits and dedupe


def test_url_credentials_found_by_the_text_scan() -> None:
    url = "postgres://app:Zq8vLm2xKp7W@db.internal:5432/shop"
    expected = families.scan(url)
    assert expected
    text = DEPLOYMENT_HEAD + (
        "          env:\n"  # 12
        "            - name: DATABASE_URL\n"  # 13
        f"              value: {url}\n"  # 14
    )
    hits = scan("deploy.yaml", text)
    assert [(h.line, h.family.id) for h in hits] == [(14, expected[0].family.id)]
    assert hits[0].column == 22 + expected[0].start
    assert hits[0].kind == "Deployment"


def test_structured_and_text_hits_on_one_value_keep_the_most_specific_family() -> None:
    token = "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dE3fG5"
    expected = families.scan(token)
    text = f"github:\n  token: {token}\n"
    hits = got("values.yaml", text, FileKind.HELM_VALUES)
    if expected:  # a provider family matched: it wins over generic-token
        assert hits == [(2, 10, expected[0].family.id)]
    else:  # (the checksum rejects this made-up token): still exactly one finding
        assert hits == [(2, 10, "generic-token")]


def test_text_hits_in_a_plain_text_file() -> None:
    pem = pem_private_key()
    expected = families.scan(pem)
    assert expected
    text = "#!/bin/sh\ncat > /tmp/key <<EOF\n" + pem + "EOF\n"
    assert got("deploy.sh", text, FileKind.TEXT) == [(3, 1, expected[0].family.id)]


def test_helm_template_placeholders_are_not_findings() -> None:
    text = (
        "apiVersion: v1\n"
        "kind: Secret\n"
        "stringData:\n"
        "  password: {{ .Values.auth.password | quote }}\n"
        '  token: {{ required "token" .Values.token }}\n'
    )
    assert got("chart/templates/secret.yaml", text, FileKind.HELM_TEMPLATE) == []


def test_unreadable_file_has_no_findings() -> None:
    loaded = load_text("x.yaml", "a: b\n", FileKind.MANIFEST)
    loaded.text = None
    assert scan_file(loaded) == []
