"""The windows a partition holds, minute by minute: objects while they change, packed after.

Windows are kept for the whole retention horizon (48 h by default) so that
late corrections stay exact, so their size per key is what bounds the
worker's memory. A minute the watermark has closed, once its windows are
written, is packed into one compressed bytes object (``streams.windows.
pack_minute``, about 25 bytes per window instead of about 800 for a dict entry
of a 7-tuple and a list of 18 ints). A late correction unpacks that minute,
updates it exactly as if it had never been packed, and the next checkpoint
packs it again. Only the open minutes (the allowed lateness) and freshly
corrected ones are held as Python objects. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection

import orjson

from streams.windows import (
    WIDTH,
    Aggregate,
    ErrorKey,
    WindowKey,
    pack_minute,
    packed_counts,
    unpack_minute,
)


class WindowStore:
    """Windows and error counts of one partition, held as objects or packed by minute.

    The per-event path (``PartitionState.process``) reads and updates
    ``windows``, ``open_by_minute`` and ``errors`` itself; closing, packing,
    eviction and recovery go through the methods.
    """

    __slots__ = (
        "errors",
        "open_by_minute",
        "packed",
        "packed_errors",
        "packed_windows",
        "unpacked_at",
        "windows",
    )

    def __init__(self) -> None:
        # Windows held as objects (open minutes, and closed ones not packed yet or
        # unpacked for a correction), indexed by minute: closing and eviction touch
        # only the minutes concerned.
        self.windows: dict[WindowKey, Aggregate] = {}
        self.open_by_minute: dict[int, list[WindowKey]] = {}
        self.errors: dict[ErrorKey, int] = {}
        # Packed minutes: window start -> pack_minute(...); never also in the above.
        self.packed: dict[int, bytes] = {}
        self.packed_windows = 0
        self.packed_errors = 0
        self.unpacked_at: dict[int, int] = {}  # minute -> closed_before when a correction came

    @property
    def packed_minutes(self) -> int:
        return len(self.packed)

    def is_packed(self, start: int) -> bool:
        return start in self.packed

    @property
    def by_minute(self) -> dict[int, list[WindowKey]]:
        """Window start -> its keys, packed minutes included (introspection; unpacks)."""
        out = {m: list(keys) for m, keys in self.open_by_minute.items()}
        for start, blob in self.packed.items():
            out[start] = [key for key, _ in unpack_minute(blob)[0]]
        return out

    def closing(self, closed_before: int, target: int) -> dict[int, dict[WindowKey, Aggregate]]:
        """Copies of the minutes held in ``[closed_before, target)``: the windows a close hands on.

        Minutes not closed yet are never packed, so all of them are objects.
        The WIDTH fields of each window go, and only windows with something
        counted: one left all-zero by a superseded or retracted version would
        not exist had the versions arrived in another order.
        """
        windows = self.windows
        return {
            start: {
                key: agg
                for key, agg in ((k, windows[k][:WIDTH]) for k in self.open_by_minute[start])
                if any(agg)
            }
            for start in [m for m in self.open_by_minute if closed_before <= m < target]
        }

    def closing_errors(self, closed_before: int, target: int) -> dict[int, dict[ErrorKey, int]]:
        """The error-category counts of the minutes in ``[closed_before, target)``, per minute.

        They go with the windows a close hands on, so an alert can say which
        categories its rejects fell into (minutes not closed yet are never
        packed, so their counts are all here). Counts a retraction brought to
        zero go, like empty windows.
        """
        out: dict[int, dict[ErrorKey, int]] = {}
        for error_key, n in self.errors.items():
            start = error_key[0][0]
            if n > 0 and closed_before <= start < target:
                out.setdefault(start, {})[error_key] = n
        return out

    def unpack(self, start: int, closed_before: int) -> None:
        """Hold a packed minute as objects again (a correction is about to update it)."""
        windows, errors = unpack_minute(self.packed[start])  # before anything changes
        del self.packed[start]
        self.packed_windows -= len(windows)
        self.packed_errors -= len(errors)
        keys = self.open_by_minute.setdefault(start, [])
        for key, agg in windows:
            if key not in self.windows:
                keys.append(key)
                self.windows[key] = agg
        for error_key, n in errors:
            self.errors.setdefault(error_key, n)
        # More corrections often follow: keep it as objects for a while.
        self.unpacked_at[start] = closed_before

    def pack(self, closed_before: int, pack_after_s: int, dirty: Collection[WindowKey]) -> None:
        """Pack the closed minutes held as objects, once written and no longer recent.

        A minute is packed once the watermark has closed minutes ``pack_after_s``
        past it (and as long after a correction unpacked it), so corrections
        arriving soon after the close, or in bursts, find it as objects.
        """
        limit = closed_before - pack_after_s
        starts = [m for m in self.open_by_minute if m < limit]
        if self.unpacked_at:
            starts = [m for m in starts if self.unpacked_at.get(m, limit) <= limit]
        if not starts:
            return
        if dirty:
            starts = [m for m in starts if not any(k in dirty for k in self.open_by_minute[m])]
        errors_of: dict[int, list[tuple[ErrorKey, int]]] = {}
        if self.errors:
            wanted = set(starts)
            for error_key, n in self.errors.items():
                if error_key[0][0] in wanted:
                    errors_of.setdefault(error_key[0][0], []).append((error_key, n))
        windows = self.windows
        for start in starts:
            keys = self.open_by_minute[start]
            errors = errors_of.get(start, [])
            try:
                blob = pack_minute(keys, [windows[k] for k in keys], errors)
            except orjson.JSONEncodeError:
                continue  # a value beyond 64 bits: keep the minute as objects
            self.packed[start] = blob
            del self.open_by_minute[start]
            for key in keys:
                del windows[key]
            for error_key, _ in errors:
                del self.errors[error_key]
            self.packed_windows += len(keys)
            self.packed_errors += len(errors)
            self.unpacked_at.pop(start, None)

    def evict(
        self,
        horizon_s: int,
        dirty_windows: Collection[WindowKey],
        dirty_errors: Collection[ErrorKey],
    ) -> None:
        """Forget the minutes behind the horizon; unwritten (dirty) windows stay until written."""
        dropped = False
        for start in [m for m in self.packed if m < horizon_s]:
            windows_n, errors_n = packed_counts(self.packed.pop(start))
            self.packed_windows -= windows_n
            self.packed_errors -= errors_n
            dropped = True
        stale: list[WindowKey] = []
        for start in [m for m in self.open_by_minute if m < horizon_s]:
            keys = self.open_by_minute[start]
            keep = [k for k in keys if k in dirty_windows]
            stale.extend(k for k in keys if k not in dirty_windows)
            if keep:
                self.open_by_minute[start] = keep
            else:
                del self.open_by_minute[start]
                self.unpacked_at.pop(start, None)
        for key in stale:
            del self.windows[key]
        if stale or dropped:
            for error_key in [
                k for k in self.errors if k[0][0] < horizon_s and k not in dirty_errors
            ]:
                del self.errors[error_key]

    # -- recovery ---------------------------------------------------------------------

    def restore_window(self, key: WindowKey, agg: Aggregate, closed_before: int) -> None:
        """A window of a checkpoint record, over whatever is held for its key."""
        if key[0] in self.packed:
            self.unpack(key[0], closed_before)
        if key not in self.windows:
            self.open_by_minute.setdefault(key[0], []).append(key)
        self.windows[key] = agg

    def restore_error(self, error_key: ErrorKey, n: int, closed_before: int) -> None:
        """An error count of a checkpoint record, over whatever is held for its key."""
        start = error_key[0][0]
        if start in self.packed:
            self.unpack(start, closed_before)
        self.errors[error_key] = n

    def restore_packed(self, start: int, blob: bytes, closed_before: int) -> None:
        """A packed minute from a full snapshot."""
        if start in self.packed or start in self.open_by_minute:
            # Already held: apply the snapshot's values over it, like rows.
            windows, errors = unpack_minute(blob)
            if start in self.packed:
                self.unpack(start, closed_before)
            keys = self.open_by_minute.setdefault(start, [])
            for key, agg in windows:
                if key not in self.windows:
                    keys.append(key)
                self.windows[key] = agg
            for error_key, n in errors:
                self.errors[error_key] = n
            return
        self.packed[start] = blob
        windows_n, errors_n = packed_counts(blob)
        self.packed_windows += windows_n
        self.packed_errors += errors_n
