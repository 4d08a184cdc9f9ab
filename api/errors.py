"""Refused requests as :class:`~api.models.ErrorBody` answers, and the handlers that write them.

Every answer but a 2xx is JSON with ``detail`` (``loc``, ``msg``, ``type``) and
``suggestions``; no answer carries a traceback, and none echoes more than
:attr:`~geo.settings.ApiSettings.echo_chars` characters of the input.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import ErrorBody, Problem
from geo.errors import EmptyResultError, ErreichbarError, RegionError
from geo.sources.geocode import AddressNotFoundError, AmbiguousAddressError

log = logging.getLogger(__name__)


class RequestError(StarletteHTTPException):
    """A refused request: HTTP status, the request field to blame, reason, suggestions.

    An HTTP exception, so that it passes unchanged through FastAPI's body reading (see
    :class:`api.guards.BodyLimit`).

    Parameters
    ----------
    status
        HTTP status of the answer.
    loc
        Where the problem is, e.g. ``["query", "minutes"]``.
    msg
        What is wrong, in words (input quoted through :func:`echo`).
    kind
        Kind of problem, e.g. ``outside_region``.
    suggestions
        Close names, known values.
    headers
        Extra answer headers, e.g. ``Retry-After``.
    """

    def __init__(self, status: int, loc: list[str], msg: str, kind: str,
                 suggestions: list[str] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(status, msg, headers)
        self.status, self.loc, self.msg, self.kind = status, loc, msg, kind
        self.suggestions = suggestions or []


def echo(value: object, limit: int = 200) -> str:
    """``repr`` of an input value for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def engine_status(exc: ErreichbarError) -> tuple[int, str]:
    """HTTP status and problem type of an engine error."""
    if isinstance(exc, AmbiguousAddressError):  # several places fit: the user picks one
        return 404, "address_ambiguous"
    if isinstance(exc, AddressNotFoundError):
        return 404, "address_not_found"
    if isinstance(exc, EmptyResultError):
        return 404, "no_offers"
    if isinstance(exc, RegionError):
        return 422, "outside_region"
    return 422, "invalid"


@contextmanager
def blame(*loc: str) -> Iterator[None]:
    """Turn an engine error raised inside into a :class:`RequestError` about ``loc``."""
    try:
        yield
    except ErreichbarError as exc:
        status, kind = engine_status(exc)
        if isinstance(exc, EmptyResultError):  # no offers: the category is to blame
            loc = ("query", "category")
        raise RequestError(status, list(loc), str(exc), kind,
                           getattr(exc, "suggestions", None)) from exc


def install(app: FastAPI, echo_chars: int) -> None:
    """Register the handlers that turn every failure into an :class:`ErrorBody`.

    Parameters
    ----------
    app
        The application.
    echo_chars
        Longest piece of input a message may quote: in messages written elsewhere
        (engine, validation) every longer run of non-blanks is cut to this, and the whole
        message to four times this.
    """
    long_word = re.compile(r"\S{%d,}" % (echo_chars + 1))

    def cut(text: str) -> str:
        """Cut every run of more than ``echo_chars`` non-blanks, then the whole text."""
        text = long_word.sub(lambda m: f"{m[0][:echo_chars]}… (cut)", text)
        return text if len(text) <= 4 * echo_chars else f"{text[:4 * echo_chars]}… (cut)"

    def answer(status: int, problems: list[Problem], suggestions: list[str] | None = None,
               headers: Mapping[str, str] | None = None) -> JSONResponse:
        for p in problems:
            p.msg, p.loc = cut(p.msg), [cut(part) for part in p.loc]
        body = ErrorBody(detail=problems, suggestions=[cut(s) for s in (suggestions or [])])
        return JSONResponse(body.model_dump(), status_code=status, headers=headers)

    @app.exception_handler(RequestError)
    async def _request_error(_: Request, exc: RequestError) -> JSONResponse:
        return answer(exc.status, [Problem(loc=exc.loc, msg=exc.msg, type=exc.kind)],
                      exc.suggestions, exc.headers)

    @app.exception_handler(ErreichbarError)
    async def _engine_error(_: Request, exc: ErreichbarError) -> JSONResponse:
        status, kind = engine_status(exc)
        return answer(status, [Problem(loc=["query"], msg=str(exc), type=kind)],
                      getattr(exc, "suggestions", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        return answer(422, [Problem(loc=[str(p) for p in e["loc"]], msg=e["msg"], type=e["type"])
                            for e in exc.errors()[:20]])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return answer(exc.status_code, [Problem(loc=[], msg=str(exc.detail), type="http")],
                      headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return answer(500, [Problem(loc=[], msg="internal error", type="internal")])
