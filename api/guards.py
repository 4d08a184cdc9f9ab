"""Guards against hostile input and heavy load.

Request-body limit, bounded heavy work, Content-Security-Policy of the HTML pages:

* :class:`BodyLimit` answers 413 to a body larger than
  :attr:`~geo.settings.ApiSettings.max_body_bytes`, by its ``Content-Length`` or, when
  chunked, as soon as the bytes read pass the limit.
* :class:`HeavySlots` lets :attr:`~geo.settings.ApiSettings.heavy_slots` heavy requests
  compute at once (each in a worker thread, never on the event loop); one more is refused
  at once with 503 and ``Retry-After`` rather than queued.
* :data:`CSP` holds the policy of each kind of page.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import cast

import anyio
from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import RequestError
from api.models import ErrorBody, Problem

#: Content-Security-Policy per kind of HTML page. The family page runs only its own
#: script file; the Leaflet maps (folium) inline their scripts and styles, so they need
#: 'unsafe-inline' for both, load the offline base map's tiles and labels from the same
#: origin and may show the online OpenStreetMap base map; Swagger UI
#: starts from one inline script, ReDoc renders with inline styles and a blob: worker.
CSP: dict[str, str] = {
    "family": "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
              "img-src 'self' data: https://tile.openstreetmap.org; connect-src 'self'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "map": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
           "img-src 'self' data: https://tile.openstreetmap.org; connect-src 'self'; "
           "base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
    "docs": "default-src 'none'; script-src 'self' 'unsafe-inline'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
            "worker-src 'self' blob:; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'",
}


def page_headers(kind: str) -> dict[str, str]:
    """Headers of an HTML page of ``kind`` (see :data:`CSP`)."""
    return {"Content-Security-Policy": CSP[kind], "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


class BodyLimit:
    """ASGI middleware: 413 for request bodies larger than ``max_bytes``.

    A ``Content-Length`` over the limit is refused before the body is read; a chunked
    body is counted as the app reads it, and the read that passes the limit raises a
    :class:`~api.errors.RequestError` (413), answered like every refused request.

    Parameters
    ----------
    app
        The wrapped application.
    max_bytes
        Largest body accepted, bytes.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    def _too_large(self) -> RequestError:
        return RequestError(413, ["body"], f"request body larger than {self.max_bytes} bytes",
                            "too_large")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check ``Content-Length``, then count the bytes as the app reads them."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length", b"0")
        if not length.isdigit() or int(length) > self.max_bytes:
            exc = self._too_large()
            body = ErrorBody(detail=[Problem(loc=exc.loc, msg=exc.msg, type=exc.kind)])
            await JSONResponse(body.model_dump(), status_code=413,
                               headers={"Connection": "close"})(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise self._too_large()
            return message

        await self.app(scope, counted, send)


def _load_trim() -> Callable[[int], int] | None:
    """Return glibc's ``malloc_trim`` (None elsewhere)."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None
    return None if trim is None else cast(Callable[[int], int], trim)


_MALLOC_TRIM = _load_trim()


def give_back_memory() -> None:
    """Return the heap pages freed by a heavy request to the system (glibc).

    A county-wide isochrone or a best-site search allocates hundreds of MB in its worker
    thread's malloc arena; freed, they stay in the process unless trimmed.
    """
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


class HeavySlots:
    """At most ``slots`` heavy computations at once; more are refused, not queued.

    Parameters
    ----------
    slots
        Heavy requests computed at once.
    retry_after_s
        Seconds a refused client is asked to wait.
    """

    def __init__(self, slots: int, retry_after_s: int) -> None:
        self.slots, self.retry_after_s = slots, retry_after_s
        self._free = threading.BoundedSemaphore(slots)

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold one slot for the enclosed work; 503 with ``Retry-After`` when none is free."""
        if not self._free.acquire(blocking=False):
            raise RequestError(
                503, [], f"busy: {self.slots} heavy requests are being computed; retry in "
                f"{self.retry_after_s} s", "busy",
                headers={"Retry-After": str(self.retry_after_s)})
        try:
            yield
        finally:
            self._free.release()


async def heavy(request: Request) -> AsyncIterator[None]:
    """Hold one of the app's :class:`HeavySlots` for the whole request, or refuse with 503.

    Dependency of the heavy endpoints (plain ``def``, run in a worker thread); itself
    ``async``, as taking or refusing a slot never waits; afterwards the memory the
    request freed goes back to the system (:func:`give_back_memory`, in a thread).
    """
    try:
        with request.app.state.heavy.hold():
            yield
    finally:
        await anyio.to_thread.run_sync(give_back_memory)
