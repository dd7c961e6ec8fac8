"""Kubernetes resource quantities ("512Mi", "4G", 1000) as whole numbers (pure)."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?([a-zA-Z]*)$")


def to_int(quantity: int | str) -> int:
    """The quantity rounded up to a whole number (bytes for memory); ValueError when it is
    not a quantity (or negative)."""
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        if quantity < 0:
            raise ValueError(f"quantity {quantity} is negative")
        return quantity
    match = _QUANTITY.match(str(quantity).strip())
    if match is None or match.group(3) not in SUFFIXES or (match.group(2) and match.group(3)):
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity (e.g. 512Mi, 4Gi, 1000)")
    try:
        value = Decimal(match.group(1)) * SUFFIXES[match.group(3)]
        if match.group(2):
            value *= Decimal(10) ** int(match.group(2))
    except InvalidOperation as error:
        raise ValueError(f"{quantity!r} is not a Kubernetes quantity") from error
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def is_quantity(quantity: int | str) -> bool:
    """Whether `to_int` accepts it."""
    try:
        to_int(quantity)
    except ValueError:
        return False
    return True
