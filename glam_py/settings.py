"""The behaviour every settings dataclass shares: dict round trips that
refuse unknown names, and copies with changes. A field holding another
settings object (anything with ``to_dict``/``from_dict``, such as
``TrainConfig.features``) travels as a nested dict."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import TypeVar

T = TypeVar("T", bound="Settings")


@functools.cache
def _nested_types(cls: type) -> dict[str, type]:
    """The fields of ``cls`` that hold settings objects, with their class."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if isinstance(hints[f.name], type) and hasattr(hints[f.name], "from_dict")
    }


class Settings:
    def to_dict(self) -> dict:
        """Every field by name; nested settings as dicts."""
        values = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            values[f.name] = value.to_dict() if hasattr(value, "to_dict") else value
        return values

    @classmethod
    def _check_names(cls, values: dict) -> None:
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} fields: {', '.join(sorted(unknown))}")

    @classmethod
    def from_dict(cls: type[T], values: dict) -> T:
        """The settings ``values`` names, defaults for the others.

        Raises
        ------
        ValueError
            A name (also of a nested dict) is not a field, or a value is invalid.
        """
        cls._check_names(values)
        nested = _nested_types(cls)
        return cls(
            **{
                name: nested[name].from_dict(value) if name in nested and isinstance(value, dict) else value
                for name, value in values.items()
            }
        )

    def replace(self: T, **changes) -> T:
        return dataclasses.replace(self, **changes)

    def updated(self: T, values: dict) -> T:
        """A copy with the fields ``values`` names changed; a nested dict
        changes only the nested fields it names (``{"features": {"pad":
        "tile"}}`` keeps the other feature settings).

        Raises
        ------
        ValueError
            A name (also of a nested dict) is not a field, or a value is invalid.
        """
        self._check_names(values)
        nested = _nested_types(type(self))
        changes = {}
        for name, value in values.items():
            if name in nested and isinstance(value, dict):
                value = nested[name].from_dict({**getattr(self, name).to_dict(), **value})
            changes[name] = value
        return self.replace(**changes)
