"""The prevention chain of a Gemeinde: which stages families reach without a car.

Heavy on the first request per mode (the chain matrix of every Gemeinde, ≈10–30 s), then
answered from memory: one :class:`~api.guards.HeavySlots` slot.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import TypeAdapter

from api.deps import NOT_READY, ServicesDep, mode_ready, ready
from api.errors import blame
from api.guards import heavy
from api.routers.travel import NO_TIMETABLE
from geo.products.chain import gemeinde_chain
from geo.vocabulary import Mode

router = APIRouter(tags=["coverage"], dependencies=[Depends(ready), Depends(heavy)],
                   responses=NOT_READY)
#: Serialiser of the chain's JSON (NaN → null, like every other answer).
_ANSWER = TypeAdapter(dict[str, Any])


@router.get("/chain", responses=NO_TIMETABLE)
def chain(
    s: ServicesDep,
    gemeinde: Annotated[str, Query(min_length=1, max_length=100,
                                   description="Gemeinde: 8-digit AGS or name, e.g. Bad Grund")],
    mode: Annotated[Mode, Query(description="walk, bike or (with a timetable) transit; "
                                            "the chain is about families without a car")
                    ] = Mode.bike,
) -> Response:
    """Reach of each stage of the prevention chain for the children of one Gemeinde.

    Per stage (pregnancy and first year, 1–3, 3–6, Kita → Grundschule, 6–10, all ages): the
    share of children under 10 reaching an offer within the stage's time budget, the median
    minutes, the offers and Träger within reach, and whether the link is broken (a gap).
    """
    mode_ready(s, str(mode))
    with blame("query", "gemeinde"):
        answer: dict[str, Any] = gemeinde_chain(s.chain(), gemeinde, str(mode))
    return Response(_ANSWER.dump_json(answer), media_type="application/json")
