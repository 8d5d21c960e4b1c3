"""A date typed as schools write it (DD/MM/YY, DD/MM/YYYY or YYYY-MM-DD), shown back as DD/MM/YYYY."""

from __future__ import annotations

from datetime import date
from typing import Any

from wtforms import StringField, ValidationError

from rules.school_dates import FORMS, DateError, parse_school_date, show


class SchoolDateField(StringField):
    """`data` is a `date` (or None when empty); a value that is not a date fails the field with words that say
    which forms are accepted, and what was typed is shown back so nothing is lost."""

    def __init__(self, label: str | None = None, validators: Any = None, **kwargs: Any) -> None:
        kwargs.setdefault("description", f"Written {FORMS}")
        super().__init__(label, validators, **kwargs)
        self.raw_text = ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        self.raw_text = str(valuelist[0]).strip() if valuelist else ""
        self.data = None
        if not self.raw_text:
            return
        try:
            self.data = parse_school_date(self.raw_text)
        except DateError as exc:
            raise ValueError(str(exc)) from None

    def _value(self) -> str:
        if self.raw_text:
            return self.raw_text
        return show(self.data) if isinstance(self.data, date) else ""


def required_date(form: Any, field: SchoolDateField) -> None:
    """The date must be given (an unparseable one has already failed with its own message)."""
    if field.data is None and not field.errors:
        raise ValidationError(f"give the date, written {FORMS}")


def day_of(field: SchoolDateField) -> date:
    """The date of a field that `required_date` has passed."""
    if not isinstance(field.data, date):
        raise ValueError(f"{field.name} holds no date")
    return field.data
