"""The right dose, on quantities: the value and UCUM unit the nurse gives against the ordered
dose (a quantity, or a range). Pure functions.

Units are compared on their UCUM codes: the same code, or two codes of the same kind that
differ by a metric prefix (``g``/``mg``/``ug``, ``L``/``mL``), converted exactly with
decimals. Any other pair is refused as not comparable, never guessed (``mg`` against ``mL``
needs the strength of the product, which the nurse checks on the order's text).
"""

from __future__ import annotations

from decimal import Decimal

from wardline.domain.clinical_record_port import DoseQuantity, GivenDose, OrderedDose

# UCUM code -> (kind, factor to the kind's base unit)
METRIC: dict[str, tuple[str, Decimal]] = {
    "kg": ("mass", Decimal(1000)),
    "g": ("mass", Decimal(1)),
    "mg": ("mass", Decimal("0.001")),
    "ug": ("mass", Decimal("0.000001")),
    "ng": ("mass", Decimal("0.000000001")),
    "L": ("volume", Decimal(1)),
    "dL": ("volume", Decimal("0.1")),
    "mL": ("volume", Decimal("0.001")),
    "uL": ("volume", Decimal("0.000001")),
    "mmol": ("amount", Decimal("0.001")),
    "mol": ("amount", Decimal(1)),
    "umol": ("amount", Decimal("0.000001")),
    "[iU]": ("iu", Decimal(1)),
    "[IU]": ("iu", Decimal(1)),
    "k[iU]": ("iu", Decimal(1000)),
    "k[IU]": ("iu", Decimal(1000)),
}


class DoseMismatch(Exception):
    def __init__(self, error_id: str, **details: str) -> None:
        super().__init__(error_id)
        self.error_id = error_id
        self.details = details


def in_unit(dose: GivenDose, unit: str) -> Decimal:
    """``dose`` expressed in ``unit``; :class:`DoseMismatch` ``bedside.wrong_unit`` when the
    two units are not comparable."""
    if dose.unit == unit:
        return dose.value
    a, b = METRIC.get(dose.unit), METRIC.get(unit)
    if a is None or b is None or a[0] != b[0]:
        raise DoseMismatch("bedside.wrong_unit", given=dose.unit, ordered=unit)
    return dose.value * a[1] / b[1]


def label(ordered: OrderedDose) -> str:
    """The ordered dose as the nurse reads it: ``500 mg``, ``4-8 UI``, ``≤ 2 {tbl}``."""

    def one(q: DoseQuantity) -> str:
        return f"{q.value.normalize():f} {q.unit_text or q.unit}"

    if ordered.quantity is not None:
        return one(ordered.quantity)
    if ordered.low is not None and ordered.high is not None:
        return f"{ordered.low.value.normalize():f}-{one(ordered.high)}"
    if ordered.low is not None:
        return f"≥ {one(ordered.low)}"
    return f"≤ {one(ordered.high)}" if ordered.high is not None else ""


def check_dose(dose: GivenDose, ordered: OrderedDose, *, partial: bool) -> None:
    """The whole dose within the ordered quantity or range (each bound in its own unit);
    a partial dose more than zero and less than the ordered (lower) value."""
    low = ordered.quantity or ordered.low
    high = ordered.quantity or ordered.high
    words = {"ordered": label(ordered), "given": f"{dose.value.normalize():f} {dose.unit}"}
    bound = low or high
    if bound is None:
        raise DoseMismatch("bedside.order_unclear")
    if dose.value <= 0:
        raise DoseMismatch("bedside.wrong_dose", **words)
    try:
        above_low = low is None or in_unit(dose, low.unit) >= low.value
        below_high = high is None or in_unit(dose, high.unit) <= high.value
    except DoseMismatch as exc:
        raise DoseMismatch(exc.error_id, given=dose.unit, ordered=words["ordered"]) from exc
    if partial:
        if low is None or above_low:
            raise DoseMismatch("bedside.dose_too_high", **words)
        return
    if not (above_low and below_high):
        raise DoseMismatch("bedside.wrong_dose", **words)
