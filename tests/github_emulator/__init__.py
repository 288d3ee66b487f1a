"""A stateful GitHub REST API emulator for the App's tests.

It implements the endpoints a pull-request-checking GitHub App uses, validates every request
body against GitHub's published schemas (the githubkit-schemas pydantic models) plus the limits
GitHub documents but the schemas do not express, and can inject faults (5xx, hangs, primary and
secondary rate limits, expired tokens). Tests drive it through :class:`EmulatorState`, never
through HTTP; see ``fixtures.py`` for the pytest fixture and ``webhooks.py`` for deliveries.
"""

from .faults import Fault, FaultKind
from .fixtures import EmulatorHandle, run_emulator
from .state import (
    App,
    CheckRun,
    CheckRunEvent,
    Comment,
    EmulatorState,
    Installation,
    MergeGroup,
    PullRequest,
    Repository,
    RequestRecord,
    Review,
)
from .tree import Symlink
from .webhooks import Delivery, build_delivery, load_example, post_delivery, sign_body

__all__ = [
    "App",
    "CheckRun",
    "CheckRunEvent",
    "Comment",
    "Delivery",
    "EmulatorHandle",
    "EmulatorState",
    "Fault",
    "FaultKind",
    "Installation",
    "MergeGroup",
    "PullRequest",
    "Repository",
    "RequestRecord",
    "Review",
    "Symlink",
    "build_delivery",
    "load_example",
    "post_delivery",
    "run_emulator",
    "sign_body",
]
