"""Keep secrets out of logs: passwords, tokens, signed portal links and URL credentials are masked.

`RedactSecretsFilter` sits on the console handler (settings.LOGGING); it rewrites the formatted
message and the traceback text of every record, because an exception message can carry a URL with
a token as easily as a log call can.
"""

from __future__ import annotations

import logging
import re

MASK = "***"

# key=value / key: value / "key": "value" / 'key': 'value' for names that carry secrets.
_KEYED = re.compile(
    r"""(?ix)
    (?P<key>\b[\w-]*(?:password|passwd|pwd|secret|token|api[_-]?key|auth(?:orization)?|session(?:id)?|cookie)[\w-]*)
    (?P<sep>["']?\s*[:=]\s*["']?)
    (?P<value>[^\s"',&;}]+)
    """
)
_PORTAL_LINK = re.compile(r"(/portal/t/)([^/\s?#\"'<>]+)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9_\-.~+/=]+)")
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*:)([^@\s/]+)(@)")
_API_KEY = re.compile(r"\bopk_[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """`text` with every secret-looking value replaced by ***."""
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{MASK}{m.group(3)}", text)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{MASK}", text)
    text = _KEYED.sub(lambda m: f"{m.group('key')}{m.group('sep')}{MASK}", text)
    text = _PORTAL_LINK.sub(lambda m: f"{m.group(1)}{MASK}", text)
    return _API_KEY.sub("opk_" + MASK, text)


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message (and traceback) with `redact`; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logged as it is rather than lost
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
