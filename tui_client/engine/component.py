"""Base for the engine's parts (identity, history sharing): shortcuts to what the engine owns."""

from __future__ import annotations

from typing import Any


class EngineComponent:
    def __init__(self, engine: Any) -> None:
        self.engine = engine

    @property
    def client(self) -> Any:
        return self.engine.client

    @property
    def store(self) -> Any:
        return self.engine.client.store

    @property
    def olm(self) -> Any:
        return self.engine.client.olm

    @property
    def user_id(self) -> str:
        return self.engine.client.user_id

    @property
    def device_id(self) -> str:
        return self.engine.client.device_id
