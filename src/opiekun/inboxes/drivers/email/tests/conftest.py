"""Fixtures for the e-mail driver tests: real mail servers on loopback (opiekun.testing.mailservers)."""

from opiekun.testing.mailservers import (  # noqa: F401 - re-exported as fixtures for this folder
    _smtp_sink_session,
    dovecot,
    other_tls_cert,
    smtp_sink,
    tcp_proxy,
    tls_cert,
)
