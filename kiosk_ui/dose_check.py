"""The right dose, on quantities: the value and UCUM unit the nurse gives against the ordered
dose (a quantity, or a range). Pure functions.

Units are compared on their UCUM codes: the same code, or two codes of the same kind that
differ by a metric prefix (``g``/``mg``/``ug``, ``L``/``mL``), converted exactly with
decimals. Any other pair is refused as not comparable, never guessed (``mg`` against ``mL``
needs the strength of the product, which the nurse checks on the order's text).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from wardline.domain.clinical_record_port import GivenDose

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


@dataclass(frozen=True, kw_only=True)
class OrderedDose:
    """The ordered dose: ``low == high`` for a single quantity. ``label`` as the order shows it."""

    low: Decimal
    high: Decimal
    unit: str
    label: str


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


def check_dose(dose: GivenDose, ordered: OrderedDose, *, partial: bool) -> None:
    """The whole dose within the ordered quantity or range; a partial dose more than zero
    and less than the ordered (lower) value."""
    value = in_unit(dose, ordered.unit)
    given = f"{dose.value.normalize():f} {dose.unit}"
    if value <= 0:
        raise DoseMismatch("bedside.wrong_dose", ordered=ordered.label, given=given)
    if partial:
        if value >= ordered.low:
            raise DoseMismatch("bedside.dose_too_high", ordered=ordered.label, given=given)
        return
    if not ordered.low <= value <= ordered.high:
        raise DoseMismatch("bedside.wrong_dose", ordered=ordered.label, given=given)
