"""Kind selectors of ``match.resources.kinds``: ``Pod``, ``v1/Pod``, ``apps/v1/Deployment``,
``networking.k8s.io/v1/Ingress``, ``Pod/exec``, ``*``, with wildcards
(kyverno ``pkg/utils/kube/kind.go`` ``ParseKindSelector``, ``pkg/utils/match/kind.go``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_VERSION = re.compile(r"^(v\d+((alpha|beta)\d+)?|\*)$")


@dataclass(frozen=True, slots=True)
class KindSelector:
    group: str
    version: str
    kind: str
    subresource: str

    @property
    def kind_without_subresource(self) -> str:
        return self.kind

    @property
    def plain(self) -> bool:
        """Any group and version, an exact kind, no subresource: a string comparison."""
        return (
            self.group == "*"
            and self.version == "*"
            and self.subresource == ""
            and "*" not in self.kind
            and "?" not in self.kind
        )


@lru_cache(maxsize=4096)
def parse_kind(text: str) -> KindSelector:
    """Group, version, kind and subresource of a selector; missing parts are ``*`` (the
    subresource is "" unless named, so ``Pod`` never matches ``Pod/exec`` requests)."""
    parts = text.split("/")
    # The last part may name a subresource after a dot: "Pod.status".
    parts = parts[:-1] + parts[-1].split(".", 1) if "." in parts[-1] else parts
    if len(parts) == 1:
        return KindSelector("*", "*", parts[0], "")
    if len(parts) == 2:
        first, second = parts
        if first == "*" and second == "*":
            return KindSelector("*", "*", "*", "*")
        if first == "*" and second.lower() == second:
            return KindSelector("*", "*", "*", second)
        if _VERSION.match(first):
            return KindSelector("*", first, second, "")
        return KindSelector("*", "*", first, second)
    if len(parts) == 3:
        if _VERSION.match(parts[0]):
            return KindSelector("*", parts[0], parts[1], parts[2])
        return KindSelector(parts[0], parts[1], parts[2], "")
    if len(parts) == 4:
        return KindSelector(parts[0], parts[1], parts[2], parts[3])
    return KindSelector("", "", "", "")


def split_api_version(api_version: str) -> tuple[str, str]:
    """``apps/v1`` -> (``apps``, ``v1``); ``v1`` -> ("", ``v1``)."""
    if "/" in api_version:
        group, _, version = api_version.partition("/")
        return group, version
    return "", api_version
