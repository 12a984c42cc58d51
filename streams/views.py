"""Read-only views of a partition's windows and error counts, packed minutes included.

Metrics, recovery logs, tests and benchmarks want "every window held" as one
mapping, whether a minute is held as objects or packed; the per-event path
never reads these (it uses ``WindowStore`` directly). Packed values are fresh
copies. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, Mapping, ValuesView
from typing import Any

from streams.window_store import WindowStore
from streams.windows import unpack_minute


class _PackedView(Mapping[Any, Any]):
    """Live entries plus those in packed minutes, as one read-only mapping.

    Subclasses name the live dict, the part of an unpacked minute they read
    (0: windows, 1: error counts), the packed count and a key's minute.
    """

    __slots__ = ("_store",)
    _part: int

    def __init__(self, store: WindowStore) -> None:
        self._store = store

    def _live(self) -> dict[Any, Any]:
        raise NotImplementedError

    def _packed_count(self) -> int:
        raise NotImplementedError

    @staticmethod
    def _minute(key: Any) -> int:
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._live()) + self._packed_count()

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except (KeyError, TypeError, IndexError):
            return False
        return True

    def __getitem__(self, key: Any) -> Any:
        value = self._live().get(key)
        if value is not None:
            return value
        blob = self._store.packed.get(self._minute(key))
        if blob is not None:
            for packed_key, packed_value in unpack_minute(blob)[self._part]:
                if packed_key == key:
                    return packed_value
        raise KeyError(key)

    def entries(self) -> Iterator[tuple[Any, Any]]:
        """Every (key, value), without one lookup (and unpacking) per key."""
        yield from self._live().items()
        for blob in list(self._store.packed.values()):
            yield from unpack_minute(blob)[self._part]

    def __iter__(self) -> Iterator[Any]:
        return (key for key, _ in self.entries())

    def items(self) -> ItemsView[Any, Any]:
        return _Items(self)

    def keys(self) -> KeysView[Any]:
        return KeysView(self)

    def values(self) -> ValuesView[Any]:
        return _Values(self)


class WindowsView(_PackedView):
    """All windows of a partition, packed or not, as a read-only mapping."""

    __slots__ = ()
    _part = 0

    def _live(self) -> dict[Any, Any]:
        return self._store.windows  # type: ignore[return-value]

    def _packed_count(self) -> int:
        return self._store.packed_windows

    @staticmethod
    def _minute(key: Any) -> int:
        return int(key[0])


class ErrorsView(_PackedView):
    """All (window, category) error counts of a partition, as a read-only mapping."""

    __slots__ = ()
    _part = 1

    def _live(self) -> dict[Any, Any]:
        return self._store.errors  # type: ignore[return-value]

    def _packed_count(self) -> int:
        return self._store.packed_errors

    @staticmethod
    def _minute(key: Any) -> int:
        return int(key[0][0])


class _Items(ItemsView[Any, Any]):
    """Items of a view without one lookup (and unpacking) per key."""

    _mapping: _PackedView

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._mapping.entries()


class _Values(ValuesView[Any]):
    _mapping: _PackedView

    def __iter__(self) -> Iterator[Any]:
        return (value for _, value in self._mapping.entries())
