"""Refused requests as :class:`~api.models.ErrorBody` answers, and the handlers that write them.

Every answer but a 2xx is JSON with ``detail`` (``loc``, ``msg``, ``type``) and
``suggestions``; no answer carries a traceback, and none echoes more than
:attr:`~geo.settings.ApiSettings.echo_chars` characters of the input.

``msg`` is in the asker's language (``lang=``, else ``Accept-Language``, else German;
:func:`geo.messages.negotiate`), from the message table's ``errors`` section: a refusal of
type ``T`` reads ``errors.type.T`` filled with its values, a pydantic validation error of
type ``T`` reads ``errors.validation.<VALIDATION_KEYS[T] or T>`` filled with pydantic's
``ctx`` (so "String should have at most 200 characters" becomes "Höchstens 200 Zeichen
erlaubt."). A refusal whose type has no text, or whose values do not fill it, keeps its
own (English, developer-facing) message; the answer's ``Content-Language`` says which.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.models import ErrorBody, Problem
from geo import messages
from geo.errors import EmptyResultError, ErreichbarError, RegionError
from geo.sources.geocode import AddressNotFoundError, AmbiguousAddressError, NoAddressDataError
from geo.transit.trip import ClosedThatDayError, HoursUnknownError

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
    values
        Placeholders of the message table's ``errors.type.<kind>`` text (``region`` is
        filled in by the handler).
    """

    def __init__(self, status: int, loc: list[str], msg: str, kind: str,
                 suggestions: list[str] | None = None,
                 headers: dict[str, str] | None = None,
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(status, msg, headers)
        self.status, self.loc, self.msg, self.kind = status, loc, msg, kind
        self.suggestions = suggestions or []
        self.values = values or {}


#: pydantic error types that share one text of ``errors.validation`` (other types use
#: their own name as key).
VALIDATION_KEYS: Final[dict[str, str]] = {
    "float_parsing": "number", "float_type": "number", "finite_number": "number",
    "int_parsing": "integer", "int_type": "integer", "int_from_float": "integer",
    "bool_parsing": "boolean", "bool_type": "boolean", "datetime_parsing": "datetime",
    "datetime_from_date_parsing": "datetime", "datetime_type": "datetime",
    "date_parsing": "date", "date_from_datetime_parsing": "date", "date_type": "date",
    "date_from_datetime_inexact": "date", "json_invalid": "json", "json_type": "json",
    "dict_type": "object", "model_type": "object", "model_attributes_type": "object",
    "list_type": "list", "string_type": "string", "string_pattern_mismatch": "pattern",
    "extra_forbidden": "extra", "literal_error": "enum"}
_QUOTED = re.compile(r"'([^']*)'")


def language(request: Request) -> str:
    """Return the language of the answer to ``request`` (``lang=``, Accept-Language, German)."""
    return messages.negotiate(request.headers.get("accept-language"),
                              request.query_params.get("lang"))


def localized(key: str, lang: str, values: Mapping[str, Any], fallback: str) -> str:
    """Return the text of ``key`` in ``lang`` filled with ``values``; ``fallback`` without one."""
    if key not in messages.table(messages.DEFAULT):
        return fallback
    try:
        return messages.text(key, lang, **values)
    except (KeyError, IndexError):  # a placeholder the values do not fill
        return fallback


def validation_text(error: Mapping[str, Any], lang: str) -> str:
    """Return pydantic's validation error ``error`` in words of ``lang`` (see module docstring).

    ``value_error`` (a model's own check) keeps its message, which names the problem.
    """
    kind = str(error["type"])
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    values = dict(error.get("ctx") or {})
    if "expected" in values:  # "'walk', 'bike' or 'car'" → "walk, bike, car"
        values["expected"] = ", ".join(_QUOTED.findall(str(values["expected"]))) \
            or values["expected"]
    other = messages.text("errors.validation.other", lang)
    return localized(f"errors.validation.{VALIDATION_KEYS.get(kind, kind)}", lang, values, other)


def echo(value: object, limit: int = 200) -> str:
    """``repr`` of an input value for a message, cut to ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


def engine_status(exc: ErreichbarError) -> tuple[int, str]:
    """HTTP status and problem type of an engine error."""
    if isinstance(exc, AmbiguousAddressError):  # several places fit: the user picks one
        return 404, "address_ambiguous"
    if isinstance(exc, NoAddressDataError):  # the region has places and stops only
        return 404, "no_address_data"
    if isinstance(exc, AddressNotFoundError):
        return 404, "address_not_found"
    if isinstance(exc, EmptyResultError):
        return 404, "no_offers"
    if isinstance(exc, HoursUnknownError):  # there and back: nothing to check against
        return 422, "hours_unknown"
    if isinstance(exc, ClosedThatDayError):
        return 422, "closed_that_day"
    if isinstance(exc, RegionError):
        return 422, "outside_region"
    return 422, "invalid"


@contextmanager
def blame(*loc: str, **values: Any) -> Iterator[None]:
    """Turn an engine error raised inside into a :class:`RequestError` about ``loc``.

    ``values`` fill the error's text in the message table (e.g. ``address``).
    """
    try:
        yield
    except ErreichbarError as exc:
        status, kind = engine_status(exc)
        if isinstance(exc, EmptyResultError):  # no offers: the category is to blame
            loc = ("query", "category")
        raise RequestError(status, list(loc), str(exc), kind,
                           getattr(exc, "suggestions", None), values=values) from exc


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

    def answer(request: Request, status: int, problems: list[Problem],
               suggestions: list[str] | None = None,
               headers: Mapping[str, str] | None = None) -> JSONResponse:
        for p in problems:
            p.msg, p.loc = cut(p.msg), [cut(part) for part in p.loc]
        body = ErrorBody(detail=problems, suggestions=[cut(s) for s in (suggestions or [])])
        return JSONResponse(body.model_dump(), status_code=status,
                            headers={**(headers or {}), "Content-Language": language(request)})

    def refusal(request: Request, kind: str, msg: str, values: Mapping[str, Any]) -> str:
        """``msg`` in the asker's language when the table has ``errors.type.<kind>``."""
        services = getattr(request.app.state, "services", None)
        region = services.engine.region.title if services is not None else ""
        lang = language(request)
        own = localized(f"errors.type.{kind}", lang, {"region": region, **values}, "")
        return own or localized(f"errors.validation.{kind}", lang, values, msg)

    @app.exception_handler(RequestError)
    async def _request_error(request: Request, exc: RequestError) -> JSONResponse:
        msg = refusal(request, exc.kind, exc.msg, exc.values)
        return answer(request, exc.status, [Problem(loc=exc.loc, msg=msg, type=exc.kind)],
                      exc.suggestions, exc.headers)

    @app.exception_handler(ErreichbarError)
    async def _engine_error(request: Request, exc: ErreichbarError) -> JSONResponse:
        status, kind = engine_status(exc)
        return answer(request, status, [Problem(loc=["query"], msg=str(exc), type=kind)],
                      getattr(exc, "suggestions", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        lang = language(request)
        return answer(request, 422, [Problem(loc=[str(p) for p in e["loc"]],
                                             msg=validation_text(e, lang), type=e["type"])
                                     for e in exc.errors()[:20]])

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        key = {404: "errors.http.not_found", 405: "errors.http.method_not_allowed"}.get(
            exc.status_code, "")
        msg = localized(key, language(request), {}, str(exc.detail))
        return answer(request, exc.status_code, [Problem(loc=[], msg=msg, type="http")],
                      headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return answer(request, 500, [Problem(
            loc=[], msg=localized("errors.type.internal", language(request), {},
                                  "internal error"), type="internal")])
