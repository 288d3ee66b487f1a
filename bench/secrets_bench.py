"""The secret scanner's benchmark: precision, recall and speed on a labeled corpus, beside
detect-secrets in the same run.

    python -m bench.secrets_bench --files 2000 [--seed 1] [--json out.json]
    python -m bench.secrets_bench --smoke            # < 60 s: 400 files, one warm pass

A planted credential is *found* when a hit lies on one of its lines (a PEM block or a block
scalar spans several); the family is scored separately. A hit on a line that holds no planted
credential is a false positive, attributed to the benign look-alike labeled there (or to
"unlabeled" lines). Precision = hit lines on planted items / all hit lines. Secret values are
never printed: misses and false positives are shown by family and kind only.

The exit status is non-zero only when something crashed (a scanner raised, the corpus is
inconsistent, our scanner cannot be imported), never because a target is missed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # python bench/secrets_bench.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import secrets_corpus as corpus
from bench.secrets_corpus import CLEAN_CATEGORIES, CorpusFile, Label

TARGET_PRECISION = 0.95
TARGET_RECALL = 0.95
TARGET_RATE = 1000.0  # files per second, ours


@dataclass(frozen=True, slots=True)
class LineHit:
    line: int
    end_line: int
    family: str | None  # None for a scanner without families (its plugin type is kept apart)
    detail: str = ""  # the peer's plugin type


@dataclass(slots=True)
class Run:
    name: str
    hits: dict[str, list[LineHit]] = field(default_factory=dict)
    seconds_cold: float = 0.0
    seconds_warm: list[float] = field(default_factory=list)
    seconds_scan_only: float | None = None  # ours: scan_file alone, files already loaded
    crashes: list[str] = field(default_factory=list)

    @property
    def best(self) -> float:
        return min(self.seconds_warm) if self.seconds_warm else self.seconds_cold


@dataclass(slots=True)
class Score:
    planted: int = 0
    found: int = 0
    family_ok: int = 0
    hit_lines: int = 0
    tp_lines: int = 0
    fp_lines: int = 0
    by_family: dict[str, list[int]] = field(
        default_factory=dict
    )  # planted family -> [n, found, fam ok]
    by_reported: dict[str, list[int]] = field(default_factory=dict)  # hit family -> [hits, tp]
    by_kind: dict[str, list[int]] = field(default_factory=dict)  # "family/kind" -> [n, found]
    misses: Counter[str] = field(default_factory=Counter)  # "family/kind"
    wrong_family: Counter[str] = field(default_factory=Counter)  # "planted -> reported"
    fps: Counter[str] = field(default_factory=Counter)  # benign kind, or "unlabeled (category)"
    fps_by_family: Counter[str] = field(default_factory=Counter)  # "reported family: kind"
    clean_findings: Counter[str] = field(default_factory=Counter)  # clean category -> hit lines

    @property
    def precision(self) -> float:
        return self.tp_lines / self.hit_lines if self.hit_lines else 1.0

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0


def score(
    files: Sequence[CorpusFile], hits: dict[str, list[LineHit]], *, lenient: bool = False
) -> Score:
    """Line-wise scores. ``lenient`` also accepts a hit one line before or after an item, or on
    the key line of the block scalar that holds it (detect-secrets' YAML line numbers)."""
    s = Score()
    for f in files:
        planted = f.planted
        benign = [lb for lb in f.labels if not lb.planted]
        file_hits = hits.get(f.path, [])
        text_lines = f.text.split("\n") if lenient else []
        zones = {id(lb): _zone(lb, text_lines, lenient) for lb in planted}

        for lb in planted:
            assert lb.family is not None
            s.planted += 1
            row = s.by_family.setdefault(lb.family, [0, 0, 0])
            kind_row = s.by_kind.setdefault(f"{lb.family}/{lb.kind}", [0, 0])
            row[0] += 1
            kind_row[0] += 1
            on = [h for h in file_hits if h.line in zones[id(lb)]]
            if not on:
                s.misses[f"{lb.family}/{lb.kind}"] += 1
                continue
            s.found += 1
            row[1] += 1
            kind_row[1] += 1
            right = {lb.family, *lb.alt}
            if any(h.family in right for h in on):
                s.family_ok += 1
                row[2] += 1
            elif any(h.family is not None for h in on):
                reported = sorted({h.family for h in on if h.family is not None})
                s.wrong_family[f"{lb.family} -> {','.join(reported)}"] += 1
        seen: set[tuple[int, str | None]] = set()
        lines: set[int] = set()
        for h in file_hits:
            on_planted = any(h.line in zones[id(lb)] for lb in planted)
            if (h.line, h.family) not in seen:
                seen.add((h.line, h.family))
                fam = h.family or h.detail or "?"
                rep = s.by_reported.setdefault(fam, [0, 0])
                rep[0] += 1
                rep[1] += on_planted
            if h.line in lines:
                continue
            lines.add(h.line)
            s.hit_lines += 1
            if f.category in CLEAN_CATEGORIES:
                s.clean_findings[f.category] += 1
            if on_planted:
                s.tp_lines += 1
                continue
            s.fp_lines += 1
            kind = _benign_kind(benign, h.line) or f"unlabeled ({f.category})"
            s.fps[kind] += 1
            s.fps_by_family[f"{h.family or h.detail or '?'}: {kind}"] += 1
    return s


def _zone(lb: Label, lines: list[str], lenient: bool) -> set[int]:
    zone = set(range(lb.line, lb.end_line + 1))
    if not lenient:
        return zone
    zone |= {lb.line - 1, lb.end_line + 1}
    own = lines[lb.line - 1]
    indent = len(own) - len(own.lstrip())
    for n in range(lb.line - 1, 0, -1):
        prev = lines[n - 1]
        if not prev.strip():
            continue
        if len(prev) - len(prev.lstrip()) < indent:
            if prev.rstrip().endswith(("|", "|-", "|+", ">", ">-")):
                zone.add(n)
            break
    return zone


def _benign_kind(benign: Iterable[Label], line: int) -> str | None:
    for lb in benign:
        if lb.covers(line):
            return lb.kind
    return None


# -- the scanners -------------------------------------------------------------------------------


def run_ours(files: Sequence[CorpusFile], root: Path, passes: int) -> Run | str:
    """load_file + scan_file on every file, contents read into memory first."""
    try:
        from bot.analyzers.secrets.scanfile import scan_file
        from bot.core.document import load_file
        from bot.core.filekind import classify
    except ImportError as exc:
        return f"our scanner cannot be imported: {exc}"
    run = Run("gitops-gate")
    contents = [(f.path, (root / f.path).read_bytes()) for f in files]

    def one_pass(record: bool) -> float:
        hits: dict[str, list[LineHit]] = {}
        start = time.perf_counter()
        for path, content in contents:
            try:
                loaded = load_file(path, content, classify(path))
                found = scan_file(loaded)
            except Exception as exc:
                if record:
                    run.crashes.append(f"{path}: {type(exc).__name__}")
                continue
            if record:
                hits[path] = [LineHit(h.line, h.end_line, h.family.id) for h in found]
        elapsed = time.perf_counter() - start
        if record:
            run.hits = hits
        return elapsed

    run.seconds_cold = one_pass(record=True)
    for _ in range(passes):
        run.seconds_warm.append(one_pass(record=False))
    # scan_file alone, on files loaded beforehand.
    loaded_files = []
    for path, content in contents:
        try:
            loaded_files.append(load_file(path, content, classify(path)))
        except Exception:
            continue
    best = float("inf")
    for _ in range(max(1, passes)):
        start = time.perf_counter()
        for loaded in loaded_files:
            try:
                scan_file(loaded)
            except Exception:
                continue
        best = min(best, time.perf_counter() - start)
    run.seconds_scan_only = best
    return run


def run_peer(files: Sequence[CorpusFile], root: Path) -> Run | str:
    """detect-secrets 1.x with its default settings (all plugins and filters), file by file."""
    try:
        from detect_secrets import SecretsCollection
        from detect_secrets.settings import default_settings
    except ImportError as exc:
        return f"detect-secrets is not installed ({exc}); pip install 'detect-secrets>=1.5,<2'"
    run = Run("detect-secrets")
    cwd = os.getcwd()
    os.chdir(root)  # it reports the paths it is given; relative paths match the labels
    try:
        with default_settings():
            collection = SecretsCollection(root=".")
            start = time.perf_counter()
            for f in files:
                try:
                    collection.scan_file(f.path)
                except Exception as exc:
                    run.crashes.append(f"{f.path}: {type(exc).__name__}")
            run.seconds_cold = time.perf_counter() - start
    finally:
        os.chdir(cwd)
    hits: dict[str, list[LineHit]] = defaultdict(list)
    for filename, secret in collection:
        path = filename.removeprefix("./")
        line = int(secret.line_number or 0)
        hits[path].append(LineHit(line, line, None, str(secret.type)))
    run.hits = dict(hits)
    return run


# -- the report ---------------------------------------------------------------------------------


def _pct(x: float) -> str:
    return f"{x:.3f}"


def _rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def _mark(ok: bool) -> str:
    return "ok" if ok else "target missed"


def report(
    files: Sequence[CorpusFile],
    ours: Run | None,
    peer: Run | None,
    s_ours: Score | None,
    s_peer: Score | None,
    out: Callable[[str], None] = print,
) -> dict[str, Any]:
    n = len(files)
    result: dict[str, Any] = {"files": n}
    out("")
    out(f"{'':24}{'gitops-gate':>14}{'detect-secrets':>16}   target")
    rows: list[tuple[str, str, str, str]] = []
    if s_ours:
        result["ours"] = _score_json(s_ours)
    if s_peer:
        result["peer"] = _score_json(s_peer)
    p_o = s_ours.precision if s_ours else None
    r_o = s_ours.recall if s_ours else None
    p_p = s_peer.precision if s_peer else None
    r_p = s_peer.recall if s_peer else None

    def cell(x: float | None) -> str:
        return "-" if x is None else _pct(x)

    beats_p = p_o is not None and (p_p is None or p_o > p_p)
    beats_r = r_o is not None and (r_p is None or r_o > r_p)
    rows.append(
        (
            "precision",
            cell(p_o),
            cell(p_p),
            f">= {TARGET_PRECISION} and better: "
            + _mark(p_o is not None and p_o >= TARGET_PRECISION and beats_p),
        )
    )
    rows.append(
        (
            "recall",
            cell(r_o),
            cell(r_p),
            f">= {TARGET_RECALL} and better: "
            + _mark(r_o is not None and r_o >= TARGET_RECALL and beats_r),
        )
    )
    for label, get in (
        ("planted found", lambda s: f"{s.found}/{s.planted}"),
        ("hit lines (fp)", lambda s: f"{s.hit_lines} ({s.fp_lines})"),
        ("family right", lambda s: f"{s.family_ok}/{s.found}"),
    ):
        rows.append((label, get(s_ours) if s_ours else "-", get(s_peer) if s_peer else "-", ""))
    rate_o = _rate(n, ours.best) if ours else None
    rate_p = _rate(n, peer.best) if peer else None
    rows.append(
        (
            "files/s",
            f"{rate_o:,.0f}" if rate_o else "-",
            f"{rate_p:,.0f}" if rate_p else "-",
            f">= {TARGET_RATE:,.0f} (ours): " + _mark(rate_o is not None and rate_o >= TARGET_RATE),
        )
    )
    if ours:
        rows.append(
            (
                "  cold / scan only",
                f"{_rate(n, ours.seconds_cold):,.0f} / "
                + (f"{_rate(n, ours.seconds_scan_only):,.0f}" if ours.seconds_scan_only else "-"),
                "",
                "load+scan cold / scan_file alone (warm)",
            )
        )
    if ours and peer:
        rows.append(
            ("speed ratio", f"{rate_o / rate_p:,.1f}x" if rate_o and rate_p else "-", "", "")
        )
    for label, a, b, c in rows:
        out(f"{label:24}{a:>14}{b:>16}   {c}")
    result["rates"] = {"ours": rate_o, "peer": rate_p}
    result["targets"] = {
        "precision": p_o is not None and p_o >= TARGET_PRECISION and beats_p,
        "recall": r_o is not None and r_o >= TARGET_RECALL and beats_r,
        "rate": rate_o is not None and rate_o >= TARGET_RATE,
    }
    if s_ours:
        zero = not s_ours.clean_findings
        result["targets"]["zero_on_clean"] = zero
        out(
            f"{'clean files':24}{sum(s_ours.clean_findings.values()):>14}"
            f"{sum(s_peer.clean_findings.values()) if s_peer else '-':>16}"
            f"   0 findings on {', '.join(sorted(CLEAN_CATEGORIES))}: {_mark(zero)}"
        )

    # Per family: recall (ours, family right, peer) and our precision by reported family.
    families = sorted(
        {*(s_ours.by_family if s_ours else {}), *(s_peer.by_family if s_peer else {})}
    )
    out("")
    out(f"{'family':30}{'n':>5}{'recall':>8}{'fam ok':>8}{'prec':>7}{'hits':>6}{'peer rec':>10}")
    for fam in families:
        o = s_ours.by_family.get(fam, [0, 0, 0]) if s_ours else [0, 0, 0]
        pr = s_peer.by_family.get(fam, [0, 0, 0]) if s_peer else [0, 0, 0]
        nn = o[0] or pr[0]
        rep = s_ours.by_reported.get(fam, [0, 0]) if s_ours else [0, 0]
        prec = _pct(rep[1] / rep[0]) if rep[0] else "-"
        out(
            f"{fam:30}{nn:>5}{_pct(o[1] / nn) if s_ours else '-':>8}"
            f"{_pct(o[2] / o[1]) if s_ours and o[1] else '-':>8}{prec:>7}{rep[0]:>6}"
            f"{_pct(pr[1] / nn) if s_peer else '-':>10}"
        )
    if s_ours:
        extra = sorted(set(s_ours.by_reported) - set(families))
        for fam in extra:
            rep = s_ours.by_reported[fam]
            out(f"{fam + ' (reported only)':30}{'':>21}{_pct(rep[1] / rep[0]):>7}{rep[0]:>6}")
    if s_peer:
        out("")
        out("detect-secrets hits by plugin: " + ", ".join(
            f"{k} {v[0]} ({v[1]} right)" for k, v in sorted(s_peer.by_reported.items())
        ))  # fmt: skip

    for name, s in (("gitops-gate", s_ours), ("detect-secrets", s_peer)):
        if s is None:
            continue
        out("")
        out(f"{name}: missed planted items by family/kind: " + _counter(s.misses))
        out(f"{name}: false positives by benign kind: " + _counter(s.fps))
        if name == "gitops-gate":
            out(f"{name}: false positives by reported family: " + _counter(s.fps_by_family))
            out(f"{name}: found with another family: " + _counter(s.wrong_family))
            if s.clean_findings:
                out(f"{name}: findings in clean files: " + _counter(s.clean_findings))
    return result


def _counter(c: Counter[str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in c.most_common()) or "none"


def _score_json(s: Score) -> dict[str, Any]:
    return {
        "precision": s.precision,
        "recall": s.recall,
        "planted": s.planted,
        "found": s.found,
        "family_ok": s.family_ok,
        "hit_lines": s.hit_lines,
        "fp_lines": s.fp_lines,
        "by_family": {
            k: {"n": v[0], "found": v[1], "family_ok": v[2]} for k, v in s.by_family.items()
        },
        "by_reported_family": {
            k: {"hits": v[0], "on_planted": v[1]} for k, v in s.by_reported.items()
        },
        "by_kind": {k: {"n": v[0], "found": v[1]} for k, v in s.by_kind.items()},
        "misses": dict(s.misses),
        "false_positives": dict(s.fps),
        "false_positives_by_family": dict(s.fps_by_family),
        "wrong_family": dict(s.wrong_family),
        "clean_findings": dict(s.clean_findings),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="< 60 s: 400 files, one warm pass")
    parser.add_argument("--passes", type=int, default=3, help="warm passes of our scanner")
    parser.add_argument("--json", type=Path, metavar="FILE")
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="write the corpus here and keep it"
    )
    parser.add_argument("--no-peer", action="store_true", help="leave out detect-secrets")
    args = parser.parse_args(argv)
    count = 400 if args.smoke else args.files
    passes = 1 if args.smoke else args.passes
    problems: list[str] = []

    started = time.perf_counter()
    files = corpus.generate(count, args.seed)
    problems += [f"corpus: {p}" for p in corpus.check(files)]
    print(f"corpus: {corpus.summary(files)} ({time.perf_counter() - started:.1f} s)")

    with tempfile.TemporaryDirectory(prefix="secrets-corpus-") as tmp:
        root = args.keep or Path(tmp)
        corpus.write(files, root)
        gc.collect()
        ours: Run | None = None
        got = run_ours(files, root, passes)
        if isinstance(got, str):
            problems.append(got)
        else:
            ours = got
        peer: Run | None = None
        if not args.no_peer:
            got = run_peer(files, root)
            if isinstance(got, str):
                problems.append(got)
            else:
                peer = got
    for run in (ours, peer):
        if run and run.crashes:
            problems.append(f"{run.name} crashed on {len(run.crashes)} files: {run.crashes[:5]}")
    s_ours = score(files, ours.hits) if ours else None
    s_peer = score(files, peer.hits) if peer else None
    result = report(files, ours, peer, s_ours, s_peer)
    lenient = {
        name: score(files, run.hits, lenient=True)
        for name, run in (("ours", ours), ("peer", peer))
        if run is not None
    }
    if lenient:
        cells = {k: f"{v.precision:.3f} / {v.recall:.3f}" for k, v in lenient.items()}
        print(
            f"\n{'lenient prec / recall':24}"
            f"{cells.get('ours', '-'):>14}{cells.get('peer', '-'):>16}"
            "   a hit +-1 line or on the block scalar's key line also counts (information only)"
        )
        result["lenient"] = {k: _score_json(v) for k, v in lenient.items()}
    result["seed"] = args.seed
    result["smoke"] = args.smoke
    result["seconds"] = {
        "ours_cold": ours.seconds_cold if ours else None,
        "ours_warm": ours.seconds_warm if ours else None,
        "ours_scan_only": ours.seconds_scan_only if ours else None,
        "peer": peer.seconds_cold if peer else None,
    }
    result["environment"] = _environment()
    result["problems"] = problems
    print(f"\ntotal {time.perf_counter() - started:.1f} s")
    for p in problems:
        print(f"PROBLEM: {p}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    return 1 if problems else 0


def _environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
    }
    try:
        from importlib.metadata import version

        env["detect-secrets"] = version("detect-secrets")
        env["cryptography"] = version("cryptography")
        env["pyyaml"] = version("pyyaml")
    except Exception:
        env["versions"] = traceback.format_exc(limit=1)
    return env


if __name__ == "__main__":
    raise SystemExit(main())
