"""The ``policies.kyverno`` section of ``.github/gitops-gate.yml``.

```yaml
policies:
  kyverno:
    paths: [policies/kyverno/, extra/require-labels.yaml]   # read from the BASE commit
    on_error: error      # severity of config/policy-error: error (fail closed) | warning
```

Paths name files or folders of the repository (relative, without ``..``); folders are read
for ``*.yaml``/``*.yml``/``*.json``. Every bad key or value becomes a ``config/...`` finding at
its line (``bot.configreader``) and the default is used for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.configreader import Reader, inside_repository
from bot.core.document import FieldPath
from bot.core.finding import Severity

KEYS = ("paths", "on_error")


@dataclass(frozen=True, slots=True)
class KyvernoConfig:
    paths: tuple[str, ...] = ()
    on_error: Severity = Severity.ERROR

    @property
    def enabled(self) -> bool:
        return bool(self.paths)


def parse_kyverno_config(
    reader: Reader, value: Any, where: FieldPath = ("policies", "kyverno")
) -> KyvernoConfig:
    section = reader.mapping(value, where, KEYS)
    raw_paths = section.get("paths")
    paths = reader.strings(raw_paths, (*where, "paths"))
    kept = tuple(
        path
        for index, path in enumerate(paths)
        if inside_repository(
            reader, path, (*where, "paths", index) if isinstance(raw_paths, list) else where
        )
    )
    on_error = reader.choice(
        section.get("on_error"), (*where, "on_error"), ("error", "warning"), "error"
    )
    return KyvernoConfig(paths=kept, on_error=Severity(on_error))
