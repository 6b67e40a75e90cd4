"""Websocket consumers. DeskConsumer: a logged-in agent's live desk (placeholder until the desk lands)."""

from __future__ import annotations

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class DeskConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=4401)
