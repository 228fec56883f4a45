"""Domain errors, and their one mapping to RFC 9457 problem details."""

from __future__ import annotations

import logging
import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    SerializationException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

log = logging.getLogger("fieldops.errors")

PROBLEM_JSON = "application/problem+json"


class DomainError(Exception):
    """A refusal the user can act on; ``status`` is its HTTP meaning.

    ``code`` is the stable machine name of the refusal (``ticket.wrong_status``): clients
    translate it and tell the user what to do; ``detail`` is the English explanation and
    may change wording at any time.
    """

    status = 400
    title = "Bad request"
    code = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    status = 404
    title = "Not found"
    code = "not_found"


class BadCredentials(DomainError):
    status = 401
    title = "Not authenticated"
    code = "auth.bad_credentials"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
    code = "forbidden"


class Conflict(DomainError):
    status = 409
    title = "Conflict"
    code = "conflict"


class InvalidInput(DomainError):
    status = 422
    title = "Invalid input"
    code = "validation.invalid"

    @classmethod
    def at(
        cls,
        field: str,
        detail: str,
        message: str = "invalid",
        source: str = "body",
        code: str = "validation.field",
    ) -> InvalidInput:
        """An error about one named field, in the same shape as a validation error."""
        return cls(detail, code=code, errors=[{"field": field, "source": source, "message": message}])


def _problem(
    status: int, title: str, detail: str, request: Request[Any, Any, Any], code: str, **extra: Any
) -> Response[dict[str, Any]]:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "code": code,  # stable: clients translate it; the detail's wording may change
    }
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    return _problem(exc.status, exc.title, exc.detail, request, exc.code, **exc.extra)


_FIELD_IN_MESSAGE = re.compile(r"(?:required field|unknown field) `([^`]+)`|at `\$\.([\w.\[\]]+)`")


def _field_of(item: dict[str, Any]) -> str | None:
    """The field a validation message is about: msgspec names it in the message for bodies."""
    match = _FIELD_IN_MESSAGE.search(str(item.get("message", "")))
    if match:
        return match.group(1) or match.group(2)
    key = item.get("key")
    return None if key in (None, "data") else str(key)


def validation_error_handler(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    errors = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if isinstance(item, dict):
            errors.append(
                {"field": _field_of(item), "source": item.get("source"), "message": item.get("message")}
            )
    fields = ", ".join(str(e["field"]) for e in errors if e["field"])
    detail = exc.detail
    if fields:
        detail = f"{exc.detail}: check {fields}"
    code = "validation.field" if fields else "validation.invalid"
    return _problem(400, "Invalid request", detail, request, code, errors=errors)


def http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    title = {
        400: "Invalid request",
        401: "Not authenticated",
        403: "Forbidden",
        404: "Not found",
        405: "Method not allowed",
    }.get(exc.status_code, "Error")
    detail = exc.detail
    code = _HTTP_CODES.get(exc.status_code, f"http.{exc.status_code}")
    if isinstance(exc, NotAuthorizedException):
        detail = "Log in again: the token is missing, invalid or expired."
    elif isinstance(exc.__cause__, SerializationException):
        detail = f"The request body is not valid JSON ({exc.detail}); see /schema for its shape."
        code = "request.bad_json"
    return _problem(exc.status_code, title, detail, request, code)


_HTTP_CODES = {
    400: "validation.invalid",
    401: "auth.required",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    429: "rate_limited",
    503: "unavailable",
}


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return _problem(
        HTTP_500_INTERNAL_SERVER_ERROR,
        "Internal error",
        "Something went wrong on the server; it has been logged.",
        request,
        "internal",
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    HTTP_500_INTERNAL_SERVER_ERROR: internal_error_handler,
}

__all__ = [
    "EXCEPTION_HANDLERS",
    "BadCredentials",
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
]
