"""Meals at the bed: tomorrow's dishes the patient may eat (diet and allergies of the record),
one order per meal changeable until the kitchen's cut-off, and the ward's kitchen export."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from kiosk_ui.models import MealOrder
from kiosk_ui.tv_options import Dish, TvOptions
from wardline.db.engine import Database
from wardline.domain.clinical_record_port import PatientBanner
from wardline.domain.errors import Conflict, InvalidInput
from wardline.domain.stay_views import StayView

MEALS = ("lunch", "dinner")


@dataclass(frozen=True)
class Restrictions:
    """What the patient must not be served, from the record (lower-case ingredient words)."""

    excluded: frozenset[str]
    known: bool
    """False when the record could not be read: only dishes without any listed ingredient."""

    @classmethod
    def of(cls, banner: PatientBanner | None) -> Restrictions:
        if banner is None:
            return cls(frozenset(), known=False)
        words = {a.substance.lower() for a in banner.allergies}
        if banner.gluten_free:
            words.add("gluten")
        return cls(frozenset(words), known=True)

    def allows(self, dish: Dish) -> bool:
        if not self.known:
            return not dish.contains
        ingredients = {c.lower() for c in dish.contains}
        return not any(i in word or word in i for word in self.excluded for i in ingredients)


def offered(menu: list[Dish], restrictions: Restrictions, meal: str) -> list[Dish]:
    return [d for d in menu if d.meal == meal and restrictions.allows(d)]


def order_day(now: datetime, options: TvOptions) -> date:
    return now.astimezone(ZoneInfo(options.timezone)).date() + timedelta(days=1)


def ordering_open(now: datetime, options: TvOptions) -> bool:
    zone = ZoneInfo(options.timezone)
    local = now.astimezone(zone)
    return local.time() < time(options.meal_cutoff_hour)


@dataclass
class Meals:
    db: Database
    options: TvOptions
    clock: Callable[[], datetime]

    async def orders(self, stay: StayView) -> dict[str, str]:
        day = order_day(self.clock(), self.options)
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(MealOrder).where(MealOrder.stay_id == stay.stay_id, MealOrder.day == day)
            )
            return {o.meal: o.dish_code for o in rows}

    async def order(
        self, stay: StayView, ward_code: str, meal: str, dish_code: str, restrictions: Restrictions
    ) -> dict[str, str]:
        now = self.clock()
        if meal not in MEALS:
            raise InvalidInput("meal.unknown", "choose lunch or dinner", meal=meal)
        dish = next((d for d in self.options.menu if d.code == dish_code), None)
        if dish is None or dish.meal != meal:
            raise InvalidInput("meal.unknown_dish", "this dish is not on the menu", dish=dish_code)
        if not restrictions.allows(dish):
            raise InvalidInput("meal.not_allowed", "this dish does not suit your diet")
        if not ordering_open(now, self.options):
            raise Conflict("meal.closed", "the kitchen has closed tomorrow's orders")
        day = order_day(now, self.options)
        async with self.db.session() as s:
            existing = (
                await s.scalars(
                    select(MealOrder).where(
                        MealOrder.stay_id == stay.stay_id,
                        MealOrder.day == day,
                        MealOrder.meal == meal,
                    )
                )
            ).first()
            bed = stay.bed.label if stay.bed else ""
            if existing is None:
                s.add(
                    MealOrder(
                        stay_id=stay.stay_id,
                        ward_code=ward_code,
                        bed_label=bed,
                        day=day,
                        meal=meal,
                        dish_code=dish_code,
                        ordered_at=now,
                    )
                )
            else:
                existing.dish_code, existing.ordered_at, existing.bed_label = dish_code, now, bed
        return await self.orders(stay)

    async def kitchen_csv(self, ward_code: str, day: date | None = None) -> str:
        """Tomorrow's orders of the ward: bed, meal, dish (no patient name)."""
        day = day or order_day(self.clock(), self.options)
        names = {d.code: d.names.get("fr", d.code) for d in self.options.menu}
        async with self.db.sessions() as s:
            rows = await s.scalars(
                select(MealOrder)
                .where(MealOrder.ward_code == ward_code, MealOrder.day == day)
                .order_by(MealOrder.bed_label, MealOrder.meal)
            )
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["day", "bed", "meal", "dish_code", "dish"])
            for o in rows:
                writer.writerow(
                    [
                        o.day.isoformat(),
                        o.bed_label,
                        o.meal,
                        o.dish_code,
                        names.get(o.dish_code, o.dish_code),
                    ]
                )
            return out.getvalue()
