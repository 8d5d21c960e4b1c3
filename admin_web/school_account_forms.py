"""The site creation approval form and the school accounts' forms, with the policy's labels word for word.

The fields only parse (lengths, dates, ids); the form's own rules (two administrators, details for a ticked box,
the address on the chosen platform) are checked once, in `rules.school_media.site_forms`, whose message is shown.
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin_web.forms import opts, record_id
from rules.policy.families import FAMILIES
from rules.policy.snapshot import DAY_NAMES
from rules.school_media.site_forms import AIMS, APPROVE_STATEMENT, AUDIENCE_BOXES, CONTENT, MAX_LINE, QUESTIONS

LONG = [Optional(), Length(max=5000)]
LINE = [Optional(), Length(max=MAX_LINE)]
DAY_LABELS = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday",
              "sat": "Saturday", "sun": "Sunday"}


class MultiCheckboxField(SelectMultipleField):
    """A list of tick boxes (the staff to choose from), one label each."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _few(form: FlaskForm, field: SelectMultipleField) -> None:
    field.data = list(dict.fromkeys(field.data or []))[:101]  # the service refuses more than 100


class SiteCreationWTForm(FlaskForm):
    """Social media site creation approval form: Team details, Purpose, audience and contributors, Administration."""

    platform = RadioField("Platform", choices=opts([(f.key, f.label) for f in FAMILIES.values()]),
                          validators=[InputRequired(message="choose the platform")])
    site_name = StringField("Name of the account", validators=LINE)
    site_url = StringField("Address of the account (URL)", validators=[Optional(), Length(max=2048)])
    department = StringField("Department", validators=LINE)
    moderator = StringField("Moderator of site", validators=LINE)
    aims = TextAreaField(AIMS, validators=LONG)
    content = TextAreaField(CONTENT, validators=LONG)
    administrator_ids = MultiCheckboxField(QUESTIONS["administrators"], coerce=record_id, validate_choice=False,
                                           validators=[_few])
    vetter = TextAreaField(QUESTIONS["vetter"], validators=LONG)
    host = TextAreaField(QUESTIONS["host"], validators=LONG)
    go_live = DateField(QUESTIONS["go_live"], validators=[Optional()])
    advertise = TextAreaField(QUESTIONS["advertise"], validators=LONG)
    parental_consent = TextAreaField(QUESTIONS["parental_consent"], validators=LONG)
    security_measures = TextAreaField(QUESTIONS["security_measures"], validators=LONG)

    def ticked(self, section: str) -> dict[str, str]:
        """The ticked boxes of `section` ("audience" or "contributors") with their details."""
        chosen: dict[str, str] = {}
        for box in AUDIENCE_BOXES:
            if self[f"{section}_{box.key}"].data:
                details = self[f"{section}_{box.key}_details"].data if box.detail else ""
                chosen[box.key] = details or ""
        return chosen


# The two tick-box sections: a box and, where the form asks for them, its details.
for _section in ("audience", "contributors"):
    for _box in AUDIENCE_BOXES:
        setattr(SiteCreationWTForm, f"{_section}_{_box.key}", BooleanField(_box.label))
        if _box.detail:
            setattr(SiteCreationWTForm, f"{_section}_{_box.key}_details",
                    StringField(f"{_box.detail}: {_box.detail_hint}", validators=[Optional(), Length(max=256)]))


class MarketingSignForm(FlaskForm):
    """Approval: Marketing officer."""

    agree = BooleanField(APPROVE_STATEMENT, validators=[DataRequired(message="tick the statement to sign it")])


class HeadteacherSignForm(FlaskForm):
    """Approval: Headteacher, with who may post and when the platform is open for them."""

    agree = BooleanField(APPROVE_STATEMENT, validators=[DataRequired(message="tick the statement to sign it")])
    poster_ids = MultiCheckboxField("People authorised to post on the account", coerce=record_id,
                                    validate_choice=False, validators=[_few])
    schedule_id = SelectField("Hours when the platform is open on the posters' devices", coerce=record_id,
                              validate_choice=False, default=0)


class RefuseForm(FlaskForm):
    reason = TextAreaField("Reason for refusing", validators=[DataRequired(), Length(max=2000)])


class PosterAddForm(FlaskForm):
    user_id = SelectField("Authorise to post", coerce=record_id, validate_choice=False,
                          validators=[DataRequired(message="choose a member of staff")])


class HoursChoiceForm(FlaskForm):
    schedule_id = SelectField("Hours when the platform is open on the posters' devices", coerce=record_id,
                              validate_choice=False, default=0)


class ButtonForm(FlaskForm):
    """A button that carries only its CSRF token (remove a poster)."""


class RetireForm(FlaskForm):
    reason = TextAreaField("Reason for retiring the account", validators=[DataRequired(), Length(max=2000)])


class HoursForm(FlaskForm):
    name = StringField("Name (e.g. School hours)", validators=[DataRequired(), Length(max=64)])
    days = MultiCheckboxField("Days", choices=opts([(d, DAY_LABELS[d]) for d in DAY_NAMES]),
                              validators=[DataRequired(message="choose at least one day")])
    start = TimeField("From", validators=[DataRequired()])
    end = TimeField("To", validators=[DataRequired()])


def error_text(form: Any) -> str:
    """The form's field errors in one line, each with its label."""
    return "; ".join(f"{form[name].label.text}: {msgs[0]}" for name, msgs in form.errors.items())
