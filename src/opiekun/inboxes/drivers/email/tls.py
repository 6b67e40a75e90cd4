"""The TLS context every mail connection uses (IMAP pull, SMTP sending)."""

from __future__ import annotations

import ssl


def client_context(*, ca_file: str | None, verify: bool) -> ssl.SSLContext:
    """Certificates verified by default; `ca_file` adds a trusted CA (a private one, a self-signed test
    server) and never turns checking off; only `verify=False` does, when an operator asks for it."""
    ctx = ssl.create_default_context(cafile=ca_file) if ca_file else ssl.create_default_context()
    if not verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
