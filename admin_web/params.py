"""Request parameters, parsed once at the edge: bounded ids in paths, and each view's declared query parameters.

Without this, `/requests/99999999999999999999999` reached the database (an integer it cannot hold: 500),
`/logs/?to=9999-12-31` overflowed a date, and `/logs/?_method=POST` was copied into `url_for`. Now:

- the `int` converter in every route is bounded to what an id column holds, so a larger number is 404;
- a view declares its query parameters with `accepts(...)` and receives them parsed as `query`; a bad value
  is 400 with a plain message naming the parameter (never silently ignored); an unknown parameter is dropped;
- links to the next page or an export are built from `Query.link_args()`, the declared parameters only, so
  nothing a visitor adds (`_method`, `_external`, `_anchor`) reaches `url_for`;
- a NUL character anywhere in the query or a form is 400: PostgreSQL refuses it in text, so it would fail late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from functools import wraps
from typing import Any, Protocol, TypeVar

from flask import Flask, abort, request
from werkzeug.routing import IntegerConverter, Map

INT32_MAX = 2**31 - 1  # the largest id an Integer column holds (PostgreSQL's integer)
INT64_MAX = 2**63 - 1  # BigInteger columns (access events, audit entries)
FIRST_DAY = date(2000, 1, 1)  # the days a person may ask about: nothing schoolgate holds is older or newer
LAST_DAY = date(2099, 12, 31)

F = TypeVar("F", bound=Callable[..., Any])


class BoundedInt(IntegerConverter):
    """The app's `int` converter: an id, 1 to INT32_MAX, in ASCII digits; anything else matches no route (404).
    (Ids start at 1: `/categories/0` must not read as "a new category".)"""

    regex = r"[0-9]{1,10}"

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = 1, max: int | None = INT32_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=False)


class BadValue(ValueError):
    """A parameter's value cannot be used; the message says what is expected."""


class Param(Protocol):
    @property
    def name(self) -> str: ...

    def parse(self, raw: str) -> Any: ...


@dataclass(frozen=True)
class IntParam:
    """A whole number from `low` to `high` (an id in a filter)."""

    name: str
    low: int = 1
    high: int = INT32_MAX

    def parse(self, raw: str) -> int:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 20:
            raise BadValue(f"a whole number from {self.low} to {self.high}")
        value = int(raw)
        if not self.low <= value <= self.high:
            raise BadValue(f"a whole number from {self.low} to {self.high}")
        return value


def parse_day(raw: str) -> date:
    """A day written YYYY-MM-DD between FIRST_DAY and LAST_DAY (a date input sends that form)."""
    try:
        day = date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise BadValue(f"a day written YYYY-MM-DD, from {FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()}")
    return day


@dataclass(frozen=True)
class DayParam:
    name: str

    def parse(self, raw: str) -> date:
        return parse_day(raw)


@dataclass(frozen=True)
class ChoiceParam:
    name: str
    choices: tuple[str, ...]

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise BadValue(f"one of {', '.join(self.choices)}")
        return raw


@dataclass(frozen=True)
class TextParam:
    """Free text up to `max_length` characters, without control characters; surrounding spaces dropped."""

    name: str
    max_length: int

    def parse(self, raw: str) -> str:
        text = raw.strip()
        if len(text) > self.max_length:
            raise BadValue(f"at most {self.max_length} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in text):
            raise BadValue("text without control characters")
        return text


@dataclass(frozen=True)
class CursorParam:
    """A page cursor this app wrote; `read` returns None for one it cannot use."""

    name: str
    read: Callable[[str], Any]

    def parse(self, raw: str) -> Any:
        value = self.read(raw) if len(raw) <= 100 else None
        if value is None:
            raise BadValue("a link to a page of this list (start again from the first page)")
        return value


class Query:
    """A view's declared parameters, parsed: `query["name"]` is the value, or None when absent or empty."""

    def __init__(self, values: dict[str, Any], raw: dict[str, str]) -> None:
        self._values = values
        self.raw = raw  # the declared parameters that were given, as sent: the form shows them back

    def __getitem__(self, name: str) -> Any:
        return self._values.get(name)

    def link_args(self, *leave_out: str) -> dict[str, Any]:
        """The given parameters, for a link to another page of the same list (never anything undeclared)."""
        return {k: v for k, v in self.raw.items() if k not in leave_out}


def parse_query(params: tuple[Param, ...], source: Mapping[str, str]) -> Query:
    """Parse the declared `params` from `source`; 400 naming the first bad one."""
    values: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for param in params:
        given = source.get(param.name, "")
        if given == "":
            continue
        try:
            values[param.name] = param.parse(given)
        except BadValue as exc:
            abort(400, description=f"The value given for \u201c{param.name}\u201d cannot be used: it must be {exc}.")
        raw[param.name] = given.strip()
    return Query(values, raw)


def accepts(*params: Param, form: bool = False) -> Callable[[F], F]:
    """Declare the view's query parameters (or, with `form`, its POSTed filter fields); the view gets `query`.

    The route table test reads `query_params` to try hostile values on each."""

    def wrap(view: F) -> F:
        @wraps(view)
        def parsed(*args: Any, **kwargs: Any) -> Any:
            return view(*args, query=parse_query(params, request.form if form else request.args), **kwargs)

        parsed.query_params = params  # type: ignore[attr-defined]
        return parsed  # type: ignore[return-value]

    return wrap


def _refuse_nul() -> None:
    for source in (request.args, request.form):
        for values in source.listvalues():
            if any("\x00" in value for value in values):
                abort(400, description="The request holds a character (NUL) that no field may contain.")


def init_app(app: Flask) -> None:
    """Bound every `<int:...>` in the app's routes (call before the blueprints are registered); refuse NUL."""
    app.url_map.converters["int"] = BoundedInt
    app.before_request(_refuse_nul)
