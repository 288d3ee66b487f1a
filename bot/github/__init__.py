"""The GitHub App: the only package that knows GitHub exists."""
