from bot.core.finding import Severity


def test_valid_deployment_has_no_findings(check):  # type: ignore[no-untyped-def]
    report = check(
        {
            "deploy.yaml": """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: nginx:1.27@sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31
"""
        }
    )
    assert report.findings == ()
    assert report.conclusion == "success"
    assert report.count(Severity.ERROR) == 0
    assert report.documents == 1
