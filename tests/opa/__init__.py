"""An OPA REST API test server (``server.py``): OPA's documented endpoints with Regorus
evaluating the Rego, for the remote OPA engine's tests."""
