"""The consent record's forms: one pupil's change (given, amended, withdrawn), a class's forms at once, the search.

The labels follow the policy's "Data protection principles": consent "for posting images and videos of a pupil
on social media platforms", obtained "from whoever holds parental responsibility", withdrawn or amended "in
writing". The academic year is a choice of the years the service allows (`rules.consent.class_view`).
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import BooleanField, DateField, HiddenField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from admin_web.forms import opts
from rules.consent.academic_year import label
from rules.consent.class_view import MAX_SEARCH
from rules.consent.records import MAX_GIVEN_BY, MAX_NOTE, Change

IMAGES = "Images of the pupil may be posted on the school's social media accounts"
VIDEOS = "Videos of the pupil may be posted on the school's social media accounts"
GIVEN_BY = "Given by (the person with parental responsibility, or the pupil)"
EFFECTIVE_ON = "Date the written notice arrived"


def year_choices(years: list[int]) -> list[SelectChoice]:
    return opts([(y, label(y)) for y in years])


class ConsentForm(FlaskForm):
    """One change to one pupil's consent; `change` is fixed by the button's form (record, amend, withdraw)."""

    change = HiddenField(validators=[InputRequired()])
    academic_year = SelectField("Academic year", coerce=int, validate_choice=True)
    images = BooleanField(IMAGES)
    videos = BooleanField(VIDEOS)
    given_by = StringField(GIVEN_BY, validators=[DataRequired(), Length(max=MAX_GIVEN_BY)])
    effective_on = DateField(EFFECTIVE_ON, validators=[DataRequired()])
    note = TextAreaField("Note", validators=[Optional(), Length(max=MAX_NOTE)])

    def chosen_change(self) -> Change | None:
        try:
            return Change(self.change.data)
        except ValueError:
            return None


class ClassConsentForm(FlaskForm):
    """The shared part of a class's consent forms; each pupil's row is read by `pupil_rows`."""

    class_name = HiddenField(validators=[DataRequired(), Length(max=32)])
    academic_year = SelectField("Academic year", coerce=int, validate_choice=True)
    effective_on = DateField("Date the consent forms arrived", validators=[DataRequired()])
    note = TextAreaField("Note (for every record made)", validators=[Optional(), Length(max=MAX_NOTE)])


@dataclass(frozen=True, slots=True)
class PupilRow:
    pupil_id: int
    images: bool
    videos: bool
    given_by: str


def field_name(pupil_id: int, part: str) -> str:
    return f"pupil-{pupil_id}-{part}"


def pupil_rows(form: MultiDict[str, str], pupil_ids: list[int]) -> list[PupilRow]:
    """The rows ticked "record" among `pupil_ids` (the class's pupils: an id from elsewhere is never read)."""
    rows = []
    for pupil_id in pupil_ids:
        if form.get(field_name(pupil_id, "record")) != "y":
            continue
        rows.append(PupilRow(pupil_id, form.get(field_name(pupil_id, "images")) == "y",
                             form.get(field_name(pupil_id, "videos")) == "y",
                             (form.get(field_name(pupil_id, "given_by")) or "")[:MAX_GIVEN_BY + 1]))
    return rows


class SearchForm(FlaskForm):
    q = StringField("Pupil's name", validators=[DataRequired(), Length(max=MAX_SEARCH)])
