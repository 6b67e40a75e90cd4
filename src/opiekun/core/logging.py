"""Keep secrets out of logs: tokens, passwords and signed links are masked in every record."""

from __future__ import annotations

import logging
import re

_PATTERNS = [
    re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|authorization)(\"?\s*[:=]\s*\"?)([^\s\"',&]+)"),
    re.compile(r"(/portal/t/)([A-Za-z0-9_\-:.]+)"),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9_\-.]+)"),
]


def redact(text: str) -> str:
    text = _PATTERNS[0].sub(lambda m: f"{m.group(1)}{m.group(2)}***", text)
    text = _PATTERNS[1].sub(lambda m: f"{m.group(1)}***", text)
    return _PATTERNS[2].sub(lambda m: f"{m.group(1)}***", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True
