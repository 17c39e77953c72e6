"""Date ranges of a booking search, and the end date of a hotel stay (pydantic models).

- `DateRange` (fixed) / `DateRangeBuggy`: the end date is optional (an open
  range). The buggy model compares `end < start` without looking whether `end` was
  given, so a request without `end` crashes inside pydantic with a TypeError, which
  pydantic does not turn into a ValidationError: the API answers 500, not 422.
- `stay_end` (fixed) / `stay_end_buggy`: check-out = check-in + nights. The buggy
  model accepts a check-in whose check-out does not exist (9999-12-31 + 1 night):
  `date + timedelta` raises OverflowError for an input the model called valid.
"""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel, Field, model_validator


class DateRange(BaseModel):
    start: date
    end: date | None = None  # open-ended

    @model_validator(mode="after")
    def _ordered(self) -> DateRange:
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self


class DateRangeBuggy(BaseModel):
    start: date
    end: date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DateRangeBuggy:
        if self.end < self.start:  # type: ignore[operator]  # the seeded defect: end may be None
            raise ValueError("end is before start")
        return self


class Stay(BaseModel):
    check_in: date
    nights: int = Field(ge=1, le=30)

    @model_validator(mode="after")
    def _ends(self) -> Stay:
        if self.check_in > date.max - timedelta(days=self.nights):
            raise ValueError("the stay would end after 9999-12-31")
        return self


class StayBuggy(BaseModel):
    check_in: date
    nights: int = Field(ge=1, le=30)


def stay_end(data: object) -> date:
    stay = Stay.model_validate(data)
    return stay.check_in + timedelta(days=stay.nights)


def stay_end_buggy(data: object) -> date:
    stay = StayBuggy.model_validate(data)
    return stay.check_in + timedelta(days=stay.nights)
