"""Meals on the TV (API ``/tv/meals``) and the ward's kitchen export ``/kitchen/{ward}.csv``."""

from __future__ import annotations

from datetime import date

import structlog
from aiohttp import web
from pydantic import BaseModel

from kiosk_ui.api import Api, ApiCall
from kiosk_ui.auth import require
from kiosk_ui.bedside_session import patient_side
from kiosk_ui.meals import MEALS, Meals, Restrictions, offered, order_day, ordering_open
from kiosk_ui.pages import language
from kiosk_ui.state import WebEdge
from kiosk_ui.tv_options import TvOptions
from wardline import appkeys as k
from wardline.domain.errors import Conflict
from wardline.domain.stay_views import StayView
from wardline.errors import WardlineError

log = structlog.get_logger(__name__)
MEALS_KEY = web.AppKey("tv_meals", Meals)


class DishOut(BaseModel):
    code: str
    name: str


class MealOut(BaseModel):
    meal: str
    dishes: list[DishOut]
    ordered: str | None


class MealsOut(BaseModel):
    day: date
    open: bool
    cutoff_hour: int
    restricted: bool
    """The record could not be read: only dishes without any listed ingredient are offered."""
    meals: list[MealOut]


class OrderIn(BaseModel):
    meal: str
    dish: str


def register(app: web.Application, edge: WebEdge) -> None:
    from kiosk_ui.tv import TV_OPTIONS

    app[MEALS_KEY] = Meals(app[k.DATABASE], app[TV_OPTIONS], app[k.CLOCK])
    app.router.add_get("/kitchen/{ward_code}.csv", kitchen_csv)
    api_routes(edge.api)


async def restrictions_of(request: web.Request, stay: StayView) -> Restrictions:
    if k.CLINICAL_RECORD not in request.app:
        return Restrictions.of(None)
    try:
        record = await request.app[k.CLINICAL_RECORD].record_for_stay(stay)
    except WardlineError as exc:
        log.warning("tv.meals_record_unavailable", error=exc.error_id)
        return Restrictions.of(None)
    return Restrictions.of(record.patient)


async def meals_view(request: web.Request, stay: StayView, lang: str) -> MealsOut:
    meals = request.app[MEALS_KEY]
    options: TvOptions = meals.options
    restrictions = await restrictions_of(request, stay)
    orders = await meals.orders(stay)
    now = meals.clock()
    return MealsOut(
        day=order_day(now, options),
        open=ordering_open(now, options) and not stay.on_leave,
        cutoff_hour=options.meal_cutoff_hour,
        restricted=not restrictions.known,
        meals=[
            MealOut(
                meal=meal,
                dishes=[
                    DishOut(code=d.code, name=d.names.get(lang, d.code))
                    for d in offered(options.menu, restrictions, meal)
                ],
                ordered=orders.get(meal),
            )
            for meal in MEALS
        ],
    )


async def _stay(request: web.Request) -> tuple[StayView, str]:
    place = await patient_side(request)
    stay = await request.app[k.STAYS].stay_for_bed(place.bed_label)
    if stay is None:
        raise Conflict("meal.no_stay", "no patient in this bed")
    return stay, place.ward_code


def api_routes(api: Api) -> None:
    @api.route(
        "GET",
        "/tv/meals",
        roles=("terminal",),
        summary="Tomorrow's dishes for this patient and the orders",
        response=MealsOut,
        tags=("tv",),
    )
    async def tv_meals(call: ApiCall) -> MealsOut:
        stay, _ = await _stay(call.request)
        return await meals_view(call.request, stay, await language(call.request))

    @api.route(
        "POST",
        "/tv/meals",
        roles=("terminal",),
        summary="Order (or change) a meal",
        body=OrderIn,
        response=MealsOut,
        tags=("tv",),
    )
    async def tv_order_meal(call: ApiCall) -> MealsOut:
        stay, ward = await _stay(call.request)
        body = call.body(OrderIn)
        if stay.on_leave:
            raise Conflict("meal.closed", "no meals are ordered while on leave")
        restrictions = await restrictions_of(call.request, stay)
        meals = call.request.app[MEALS_KEY]
        await meals.order(stay, ward, body.meal, body.dish, restrictions)
        return await meals_view(call.request, stay, await language(call.request))


async def kitchen_csv(request: web.Request) -> web.StreamResponse:
    user = await require(request, ("nurse", "admin"))
    ward = request.match_info["ward_code"]
    if "admin" not in user.roles and user.ward_code not in (None, ward):
        raise Conflict("kitchen.other_ward", "this is another ward's export", ward=ward)
    text = await request.app[MEALS_KEY].kitchen_csv(ward)
    return web.Response(
        text=text,
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="meals-{ward}.csv"'},
    )
