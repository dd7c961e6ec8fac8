"""A V2 tensor's JSON `data` read as a numpy array of its datatype, refusing what the
datatype cannot hold instead of changing it.

numpy alone would turn 1.5 into 1 for an INT64 tensor, "7" into 7, "a" into true for BOOL,
null into NaN for FP32, 1e39 into infinity, and true among numbers into 1. Here a numeric tensor takes JSON numbers, an
integer one only whole numbers within its range, a float one only numbers within its range,
and BOOL only true and false (as Triton's JSON reader does).
An integer past 64 bits, which JSON readers hand over as a float, is out of every integer
datatype's range. The model server and the router read a request's JSON data through this.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np


class NotOfType(ValueError):
    """A value the datatype cannot hold; the message names the first such value."""


def typed_array(data: Any, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """The array of JSON `data` (nested or flat lists) as `dtype`, a numeric or BOOL one.

    Raises NotOfType for a value of another type or out of range, and numpy's ValueError for
    ragged data."""
    given = np.asarray(data)
    if given.size == 0:
        return given.astype(dtype)
    kind, want = given.dtype.kind, dtype.kind
    if want == "b":
        if kind != "b":
            value = _first(data, lambda v: not isinstance(v, bool))
            raise NotOfType(f"{_spelled(value)} is not true or false")
    elif kind not in "iuf" or (want in "iu" and kind == "f" and not _whole(given)):
        value = _first(data, _not_number(want in "iu"))
        if isinstance(value, int) and not isinstance(value, bool):  # past 64 bits, kept exact
            raise NotOfType(f"{value} is out of range for {dtype.name}")
        raise NotOfType(f"{_spelled(value)} is not {_noun(want)}")
    elif want in "iu" and not np.can_cast(given.dtype, dtype):
        least, most = _bounds(dtype)
        low, high = given.min(), given.max()
        if low < least or high > most:
            value = low if low < least else high
            raise NotOfType(f"{_plain(value)} is out of range for {dtype.name}")
    elif want == "f" and dtype.itemsize < given.dtype.itemsize:
        largest = _largest(dtype)
        high, low = np.fmax.reduce(given, axis=None), np.fmin.reduce(given, axis=None)
        if high > largest or low < -largest:  # (fmax, fmin: past any NaN, which stays NaN)
            past = given[np.isfinite(given) & (np.abs(given) > largest)]
            if past.size:
                raise NotOfType(f"{_spelled(past[0].item())} is out of range for {dtype.name}")
    if want != "b" and _folded_bool(data, given):
        raise NotOfType(f"{_spelled(_first(data, _is_bool))} is not {_noun(want)}")
    return given.astype(dtype, copy=False)


def _folded_bool(data: Any, given: np.ndarray[Any, Any]) -> bool:
    """Whether JSON true or false stood among the numbers of `data`, which numpy read into
    `given` as 1 and 0. Only a 0 or a 1 can have been one: in a long array with few of them
    only those are looked at, else every value's type is."""
    ndim = given.ndim
    if given.size > _SHORT:
        flat = given.reshape(-1)
        suspects = np.flatnonzero((flat == 0) | (flat == 1))
        if suspects.size * _SPARSE <= flat.size:
            places = [axis.tolist() for axis in np.unravel_index(suspects, given.shape)]
            if ndim == 1:
                values = [data[i] for i in places[0]]
            else:
                values = [_at(data, place) for place in zip(*places, strict=True)]
            return bool in set(map(type, values))
    if ndim == 1:
        return bool in set(map(type, data))
    return any(bool in set(map(type, row)) for row in _rows(data, ndim))


_SHORT = 64  # an array this short has every value's type looked at
_SPARSE = 32  # at most one 0 or 1 in this many values: only those are looked at


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _at(data: Any, place: tuple[int, ...]) -> Any:
    for index in place:
        data = data[index]
    return data


def _rows(data: Any, ndim: int) -> Iterator[list[Any]]:
    """The innermost lists of JSON `data` nested `ndim` deep (a scalar as a row of one)."""
    if ndim == 0:
        yield [data]
    elif ndim == 1:
        yield data
    else:
        for item in data:
            yield from _rows(item, ndim - 1)


@functools.cache
def _largest(dtype: np.dtype[Any]) -> float:
    return float(np.finfo(dtype).max)


@functools.cache
def _bounds(dtype: np.dtype[Any]) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _whole(array: np.ndarray[Any, Any]) -> bool:
    """Whether every float in `array` is a whole number (NaN and infinities are not)."""
    return bool(np.isfinite(array).all() and (np.trunc(array) == array).all())


def _not_number(integer: bool) -> Callable[[Any], bool]:
    def wrong(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        if isinstance(value, int):
            return not -(2**63) <= value < 2**64
        return integer and isinstance(value, float) and not value.is_integer()

    return wrong


def _noun(kind: str) -> str:
    return "an integer" if kind in "iu" else "a number"


def _first(data: Any, wrong: Callable[[Any], bool]) -> Any:
    """The first value of JSON `data` (nested lists, in order) for which `wrong` holds."""
    return next((value for value in leaves(data) if wrong(value)), None)


def leaves(data: Any) -> Iterator[Any]:
    """The values of JSON `data` (nested lists), in order."""
    if isinstance(data, list):
        for item in data:
            yield from leaves(item)
    else:
        yield data


def _spelled(value: Any) -> str:
    """A JSON value as JSON spells it (null, true, "7"), NaN and infinities as tokens."""
    return json.dumps(value)


def _plain(value: Any) -> str:
    """A number as a user wrote it: 300, not np.int64(300); a whole float as an integer."""
    item = value.item() if hasattr(value, "item") else value
    if isinstance(item, float) and item.is_integer():
        return str(int(item))
    return repr(item)
