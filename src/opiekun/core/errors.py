"""Errors services raise; views and the API translate them into field errors, 4xx answers or messages."""

from __future__ import annotations


class OpiekunError(Exception):
    """Base for errors that carry a message safe to show to the user."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "invalid") -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code


class ValidationFailed(OpiekunError):
    pass


class NotFound(OpiekunError):
    """The object does not exist *for this caller* (another shop's or customer's id looks the same)."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message, code="not_found")


class PermissionDenied(OpiekunError):
    def __init__(self, message: str = "Not allowed.") -> None:
        super().__init__(message, code="forbidden")


class RateLimited(OpiekunError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many requests, please try again later.", code="rate_limited")
        self.retry_after = retry_after
