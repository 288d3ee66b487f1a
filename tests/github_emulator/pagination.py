"""``per_page``/``page`` paging with GitHub's ``Link`` header."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar
from urllib.parse import urlencode

from aiohttp import web

from .errors import GitHubError

T = TypeVar("T")
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise GitHubError(422, f"Invalid value for parameter '{name}': {raw!r}") from exc


def paginate(
    request: web.Request, base_url: str, items: Sequence[T]
) -> tuple[list[T], dict[str, str]]:
    """One page of ``items`` and the headers (``Link``) GitHub would send with it."""
    per_page = min(max(_int_param(request, "per_page", DEFAULT_PER_PAGE), 1), MAX_PER_PAGE)
    page = max(_int_param(request, "page", 1), 1)
    last = max((len(items) + per_page - 1) // per_page, 1)
    start = (page - 1) * per_page
    chunk = list(items[start : start + per_page])

    def url(n: int) -> str:
        query = dict(request.query)
        query["per_page"] = str(per_page)
        query["page"] = str(n)
        return f"{base_url}{request.path}?{urlencode(query)}"

    links: list[str] = []
    if page < last:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(last)}>; rel="last"')
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(min(page - 1, last))}>; rel="prev"')
    return chunk, ({"Link": ", ".join(links)} if links else {})
