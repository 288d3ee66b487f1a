"""Which images a change deploys, and the exact line of each ``image:`` value."""

from __future__ import annotations

import pytest

from bot.analyzers.images.extract import ImageUse, images_in
from bot.core.document import format_path, load_text
from bot.core.filekind import FileKind


def uses(
    text: str, kind: FileKind = FileKind.MANIFEST, path: str = "k8s/app.yaml"
) -> list[ImageUse]:
    return list(images_in([load_text(path, text, kind)]))


def where(use: ImageUse) -> tuple[str, int, int]:
    pos = use.doc.locate(use.path)
    return format_path(use.path), pos.line, pos.column


POD = """\
apiVersion: v1
kind: Pod
metadata: {name: debug}
spec:
  initContainers:
    - name: init
      image: busybox:1.36
  containers:
    - name: app
      image: ghcr.io/acme/app:1.0
  ephemeralContainers:
    - name: shell
      image: "alpine:3.20"
"""


def test_pod_all_three_container_lists() -> None:
    found = uses(POD)
    assert [(u.text, u.context) for u in found] == [
        ("ghcr.io/acme/app:1.0", 'container "app"'),
        ("busybox:1.36", 'init container "init"'),
        ("alpine:3.20", 'ephemeral container "shell"'),
    ]
    assert [where(u) for u in found] == [
        ("spec.containers[0].image", 10, 14),
        ("spec.initContainers[0].image", 7, 14),
        ("spec.ephemeralContainers[0].image", 13, 14),
    ]


TEMPLATE = """\
apiVersion: {api}
kind: {kind}
metadata: {{name: web}}
spec:
  template:
    spec:
      containers:
        - name: web
          image: nginx:1.27
"""


@pytest.mark.parametrize(
    ("api", "kind"),
    [
        ("apps/v1", "Deployment"),
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"),
        ("apps/v1", "ReplicaSet"),
        ("v1", "ReplicationController"),
        ("batch/v1", "Job"),
        ("extensions/v1beta1", "Deployment"),
        ("argoproj.io/v1alpha1", "Rollout"),
        ("serving.knative.dev/v1", "Service"),
    ],
)
def test_workloads_with_spec_template(api: str, kind: str) -> None:
    found = uses(TEMPLATE.format(api=api, kind=kind))
    assert [(u.text, where(u)) for u in found] == [
        ("nginx:1.27", ("spec.template.spec.containers[0].image", 9, 18))
    ]


CRONJOB = """\
apiVersion: batch/v1
kind: CronJob
metadata:
  name: report
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: report
              image: ghcr.io/acme/report:2.1.0
            - name: sidecar
              image: >-
                ghcr.io/acme/sidecar:0.3
"""


def test_cronjob_job_template() -> None:
    found = uses(CRONJOB)
    assert [(u.text, where(u)) for u in found] == [
        (
            "ghcr.io/acme/report:2.1.0",
            ("spec.jobTemplate.spec.template.spec.containers[0].image", 14, 22),
        ),
        (
            "ghcr.io/acme/sidecar:0.3",
            ("spec.jobTemplate.spec.template.spec.containers[1].image", 16, 22),
        ),
    ]


POD_TEMPLATE = """\
apiVersion: v1
kind: PodTemplate
metadata: {name: t}
template:
  spec:
    containers: [{name: a, image: "redis:7"}]
"""


def test_pod_template_kind_and_flow_style() -> None:
    found = uses(POD_TEMPLATE)
    assert [(u.text, where(u)) for u in found] == [
        ("redis:7", ("template.spec.containers[0].image", 6, 35))
    ]


ROLLOUT = """\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: canary
spec:
  replicas: 3
  strategy:
    canary:
      steps:
        - setWeight: 20
  template:
    metadata:
      labels: {app: canary}
    spec:
      initContainers:
        - name: migrate
          image: ghcr.io/acme/migrate:5
      containers:
        - name: canary
          image: ghcr.io/acme/canary:1.2.3
"""


def test_argo_rollout() -> None:
    found = uses(ROLLOUT)
    assert [(u.text, u.context, where(u)[1]) for u in found] == [
        ("ghcr.io/acme/canary:1.2.3", 'container "canary"', 20),
        ("ghcr.io/acme/migrate:5", 'init container "migrate"', 17),
    ]


NESTED_CRD = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledJob
metadata: {name: worker}
spec:
  jobTargetRef:
    template:
      spec:
        containers:
          - name: worker
            image: ghcr.io/acme/worker:9
"""


def test_pod_template_nested_in_a_custom_resource() -> None:
    found = uses(NESTED_CRD)
    assert [where(u) for u in found] == [
        ("spec.jobTargetRef.template.spec.containers[0].image", 10, 20)
    ]


NOT_POD_TEMPLATES = """\
apiVersion: mail.example.com/v1
kind: Campaign
metadata: {name: spring}
spec:
  template:
    spec:
      containers: "three boxes"
---
apiVersion: ui.example.com/v1
kind: Widget
metadata: {name: w}
spec:
  template:
    spec:
      containers:
        - image: logo.png
        - name: footer
          image: banner.png
---
apiVersion: ui.example.com/v1
kind: Gallery
spec:
  images:
    - image: cat.png
      name: cat
  template: {spec: {containers: []}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
data:
  template: |
    spec:
      containers: [{name: a, image: nginx}]
"""


def test_custom_resources_without_pod_templates_yield_nothing() -> None:
    assert uses(NOT_POD_TEMPLATES) == []


def test_walk_is_bounded_in_depth() -> None:
    deep = "apiVersion: x.io/v1\nkind: Deep\nspec:\n"
    indent = "  "
    for level in range(12):
        deep += f"{indent}l{level}:\n"
        indent += "  "
    deep += f"{indent}template:\n{indent}  spec:\n{indent}    containers:\n"
    deep += f"{indent}      - {{name: a, image: nginx}}\n"
    assert uses(deep) == []


def test_list_items_and_empty_or_odd_images() -> None:
    text = """\
apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: Pod
    metadata: {name: a}
    spec:
      containers:
        - name: a
          image: nginx:1
        - name: b
          image: ""
        - name: c
          image: 5
        - "not a container"
"""
    found = uses(text)
    assert [(u.text, where(u)) for u in found] == [
        ("nginx:1", ("spec.containers[0].image", 10, 18))
    ]
    assert found[0].doc.base_path == ("items", 0)


KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deployment.yaml]
images:
  - name: nginx
    newTag: 1.27.0
  - name: ghcr.io/acme/api
    newName: registry.acme.dev/api
    newTag: v2
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
  - name: redis
    digest: sha256:1111111111111111111111111111111111111111111111111111111111111111
  - name: busybox
    newName: ghcr.io/acme/busybox
  - name: only-a-name
  - name: postgres
    tagSuffix: -alpine
  - name: alpine
    newTag: 3.6
  - "not an entry"
"""

ZEROS = "0" * 64
ONES = "1" * 64


def test_kustomization_overrides() -> None:
    found = uses(KUSTOMIZATION, FileKind.KUSTOMIZATION, "overlays/prod/kustomization.yaml")
    rows = [
        (
            u.text,
            u.pinning_known,
            where(u),
            u.doc.locate(u.name_path).line if u.name_path else None,
            u.doc.locate(u.pin_path).line if u.pin_path else None,
        )
        for u in found
    ]
    assert rows == [
        ("nginx:1.27.0", True, ("images[0]", 5, 5), 5, 6),
        (f"registry.acme.dev/api:v2@sha256:{ZEROS}", True, ("images[1]", 7, 5), 8, 9),
        (f"redis@sha256:{ONES}", True, ("images[2]", 11, 5), 11, 12),
        ("ghcr.io/acme/busybox", False, ("images[3].newName", 14, 14), 14, None),
        ("3.6", True, ("images[6].newTag", 19, 13), None, None),
    ]
    assert found[-1].problem == (
        'newTag is a number in YAML (3.6), and kustomize stops with "cannot unmarshal number '
        'into Go struct field Image.images.newTag of type string"; quote it: newTag: "3.6"'
    )
    assert [u.context for u in found] == [
        'kustomization image "nginx"',
        'kustomization image "ghcr.io/acme/api"',
        'kustomization image "redis"',
        'kustomization image "busybox"',
        'kustomization image "alpine"',
    ]


def test_kustomization_images_are_not_read_from_manifests() -> None:
    # A manifest with a top-level "images:" list is data, not a kustomization.
    assert uses(KUSTOMIZATION, FileKind.MANIFEST) == []
    # And a kustomization's resources are not containers.
    assert uses(TEMPLATE.format(api="apps/v1", kind="Deployment"), FileKind.KUSTOMIZATION) == []
