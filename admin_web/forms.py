"""The forms, with the labels of the school's policy forms word for word, so staff recognise them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from admin_web.params import FIRST_DAY, INT32_MAX, LAST_DAY
from rules.monitoring.states import CircumventionMode
from rules.workflows.accounts import ROLES
from rules.workflows.form_urls import BadURL, parse_web_url, parse_web_urls


def opts(pairs: Sequence[tuple[Any, str]]) -> list[SelectChoice]:
    """Choices for a select or radio field (WTForms 3.3 wants SelectChoice, not tuples)."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def record_id(value: object) -> int:
    """A select's id as a number an id column can hold; anything else fails the field ("could not coerce"), where a
    forged 99999999999999999999 would otherwise fail in the database."""
    number = int(value)  # type: ignore[call-overload]
    if not 0 <= number <= INT32_MAX:
        raise ValueError("not one of the choices")
    return number


def _sensible_day(form: FlaskForm, field: DateField) -> None:
    """A day in this century: the year 9999 would overflow when the day's end is worked out."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(f"choose a day from {FIRST_DAY:%d %b %Y} to {LAST_DAY:%d %b %Y}")


def _web_url(form: FlaskForm, field: StringField) -> None:
    try:
        parse_web_url(field.data or "")
    except BadURL as exc:
        raise ValidationError(str(exc)) from None


def _web_urls(form: FlaskForm, field: TextAreaField) -> None:
    try:
        parse_web_urls(field.data or "")
    except BadURL as exc:
        raise ValidationError(str(exc)) from None


TEXT = [DataRequired(), Length(max=5000)]


class AccessRequestForm(FlaskForm):
    """Blocked content access request form: Requester (staff name and date come from the account)."""

    full_url = StringField("Full URL", validators=[DataRequired(), Length(max=2048), _web_url])
    site_content = TextAreaField("Site content", validators=TEXT)
    reasons_for_access = TextAreaField("Reasons for access", validators=TEXT)
    risks_and_controls = TextAreaField("Identified risks and control measures", validators=TEXT)


class TechnicalNoteForm(FlaskForm):
    technical_note = TextAreaField("Technical note (ICT technician)", validators=TEXT)


class AuthoriserForm(FlaskForm):
    """Blocked content access request form: Authoriser."""

    approved = RadioField("Approved?", choices=opts([("yes", "Yes"), ("no", "No")]), validators=[InputRequired()])
    reasons = TextAreaField("Reasons", validators=TEXT)
    scope = RadioField("Who the exception covers", default="everyone",
                       choices=opts([("everyone", "Everyone"), ("group", "One group"), ("device", "One device")]))
    group_id = SelectField("Group", coerce=record_id, validate_choice=False, default=0)
    device_id = SelectField("Device", coerce=record_id, validate_choice=False, default=0)
    until = DateField("Until (the last day it is open, inclusive)", validators=[Optional(), _sensible_day])
    # Only for a host of one of the four services (rules.policy.families): its CDN and API hosts too, or not.
    reach = RadioField("What opens", default="site",
                       choices=opts([("site", "This site only"), ("service", "The whole service")]))


class ContentReportForm(FlaskForm):
    """Inappropriate content report form (the staff name comes from the account)."""

    individual = StringField("Name of individual accessing inappropriate content (if known)",
                             validators=[Optional(), Length(max=128)])
    incident_date = DateField("Date", validators=[DataRequired(), _sensible_day])
    full_urls = TextAreaField("Full URL(s)", validators=[DataRequired(), Length(max=20000), _web_urls],
                              description="One address a line, each starting with http:// or https://")
    nature = TextAreaField("Nature of inappropriate content", validators=TEXT)


class ReportActionForm(FlaskForm):
    """Inappropriate content report form: To be completed by ICT technician."""

    outcome = RadioField("Block the site?", default="block",
                         choices=opts([("block", "Block it"), ("no", "Do not block it (say why below)")]))
    kind = RadioField("What to block", default="domain",
                      choices=opts([("domain", "The whole site (its domain)"),
                                    ("url", "Only addresses starting with")]))
    target = StringField("Address to block", validators=[Optional(), Length(max=2048)])
    category_id = SelectField("Category", coerce=record_id, validate_choice=False, default=0)
    action_taken = TextAreaField("Action taken", validators=TEXT)


class BanConfirmForm(FlaskForm):
    ends_on = DateField("Ban ends on", validators=[DataRequired(), _sensible_day])
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


class BanLiftForm(FlaskForm):
    reason = TextAreaField("Reason for lifting", validators=TEXT)
    false_positive = BooleanField("False positive (the pupil did nothing wrong)")


class SuperviseForm(FlaskForm):
    staff_name = StringField("Supervising member of staff", validators=[DataRequired(), Length(max=128)])
    minutes = IntegerField("Minutes", default=30, validators=[InputRequired(), NumberRange(1, 240)])


def _few_groups(form: FlaskForm, field: SelectMultipleField) -> None:
    """A school has a handful of groups: a forged list of 70,000 ids would pass one bound parameter each to the
    database (PostgreSQL takes at most 65,535: a 500)."""
    if field.data and len(set(field.data)) > MAX_GROUPS:
        raise ValidationError(f"choose at most {MAX_GROUPS} groups")
    field.data = list(dict.fromkeys(field.data or []))


MAX_GROUPS = 1000


class CategoryForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=64)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    locked = BooleanField("Locked (no exception can ever open it, e.g. child abuse lists)")
    block_everyone = BooleanField("Blocked for every group", default=True)
    group_ids = SelectMultipleField("Otherwise blocked for these groups", coerce=record_id, validate_choice=False,
                                    validators=[_few_groups])
    safeguarding = BooleanField("Safeguarding: a visit to a site in it raises a concern for the DSL, blocked or not")
    unlock_reason = TextAreaField("Why unlock it (the headteacher reads this before confirming)",
                                  validators=[Optional(), Length(max=2000)])
    trust_wide = BooleanField("For every school of the trust (only trust admins make these)")


class UnlockDecisionForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])


class ListImportForm(FlaskForm):
    category_id = SelectField("Category", coerce=record_id, validate_choice=False)
    fmt = SelectField("Format", default="auto",
                      choices=opts([("auto", "Detect"), ("hosts", "hosts file"), ("adblock", "adblock (||x^)"),
                                    ("domains", "one domain a line")]))
    file = FileField("List file", validators=[FileRequired()])


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=64)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=2000)])
    safesearch = BooleanField("SafeSearch on search engines", default=True)
    circumvention_mode = SelectField("When a device tries to get round the filter",
                                     choices=opts([(CircumventionMode.BAN, "Ban the device"),
                                                   (CircumventionMode.ALERT, "Alert only")]))


class DeviceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=128)])
    ip = StringField("IP address", validators=[DataRequired(), Length(max=45)])
    mac = StringField("MAC address", validators=[Optional(), Length(max=17)])
    group = SelectField("Group", validate_choice=False)
    person = StringField("Person it is assigned to", validators=[Optional(), Length(max=128)])


class AccountForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=255)])
    name = StringField("Name", validators=[DataRequired(), Length(max=128)])
    roles = SelectMultipleField("Roles", choices=opts([(r, r) for r in ROLES]), validators=[DataRequired()])
    active = BooleanField("Active (may sign in)", default=True)
    password = PasswordField("New password (leave empty to keep)", validators=[Optional(), Length(min=10, max=1024)])
    schools = SelectMultipleField("Schools", coerce=record_id, validators=[Optional()])  # none: kept
