"""Errors of the Kyverno engine; each message is written for the policy author."""


class KyvernoError(Exception):
    """Base of every Kyverno evaluation error; the message is user-facing."""


class SubstitutionError(KyvernoError):
    """A ``{{ ... }}`` variable could not be resolved; the rule result is ``error``."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


class JMESPathError(KyvernoError):
    """A JMESPath expression does not compile, or its evaluation failed."""


class NotFoundError(JMESPathError):
    """kyverno/go-jmespath's "Unknown key": a field looked up on an object that lacks it."""

    def __init__(self, key: str) -> None:
        super().__init__(f'Unknown key "{key}" in path')
        self.key = key


class PolicyDefinitionError(KyvernoError):
    """The policy itself is wrong (unknown operator, malformed pattern): a config finding."""
