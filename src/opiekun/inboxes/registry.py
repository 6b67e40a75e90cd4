"""The driver registry: channel kind → driver instance, filled explicitly in InboxesConfig.ready()."""

from __future__ import annotations

from opiekun.core.registry import Registry

from .base import Driver

drivers: Registry[Driver] = Registry("channel driver")
