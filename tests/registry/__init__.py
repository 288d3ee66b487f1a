"""A real OCI registry for tests: Debian's ``docker-registry`` (distribution 2.8.2) on loopback,
a bearer-token server for it, push helpers and pytest fixtures (see ``plugin.py``)."""
