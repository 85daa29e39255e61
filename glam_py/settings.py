"""The behaviour every settings dataclass shares: dict round trips that
refuse unknown names, and copies with changes."""

from __future__ import annotations

import dataclasses
from typing import TypeVar

T = TypeVar("T", bound="Settings")


class Settings:
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls: type[T], values: dict) -> T:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
        return cls(**values)

    def replace(self: T, **changes) -> T:
        return dataclasses.replace(self, **changes)
