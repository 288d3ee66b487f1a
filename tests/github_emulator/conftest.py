"""Makes the ``github_emulator`` fixture available to the emulator's own tests."""

from .fixtures import github_emulator

__all__ = ["github_emulator"]
