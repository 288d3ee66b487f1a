"""One exception tree for infrastructure failures (bad input is a finding, not an exception)."""


class BotError(Exception):
    """Base of every error gitops-gate raises on purpose."""


class UsageError(BotError):
    """The command line or its environment is wrong (exit code 2)."""


class ConfigError(BotError):
    """The configuration cannot be used at all (exit code 2)."""
