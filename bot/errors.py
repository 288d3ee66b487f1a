"""One exception tree for infrastructure failures (bad input is a finding, not an exception)."""


class BotError(Exception):
    """Base of every error gitops-gate raises on purpose."""


class UsageError(BotError):
    """The command line or its environment is wrong (exit code 2)."""


class ConfigError(BotError):
    """The configuration cannot be used at all (exit code 2)."""


class SettingsError(ConfigError):
    """The process settings (environment variables) are unusable; ``problems`` lists every one,
    each naming its variable (never its value when the value is a secret)."""

    def __init__(self, problems: list[str] | tuple[str, ...]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        count = len(self.problems)
        super().__init__(f"invalid settings ({count} problem{'' if count == 1 else 's'}):\n{lines}")
