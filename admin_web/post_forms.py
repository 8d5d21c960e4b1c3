"""The post forms: the poster's (text, media, pupils by class and by name) and the approver's (the checklist, a
reason). Choices come from the roll and from `rules.school_media.post_checklist`, never from copies."""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SelectMultipleField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from admin_web.forms import opts, record_id
from rules.school_media.post_checklist import CONTENT_KINDS, EVERY_CRITERION
from rules.school_media.posts import MAX_CLASSES, MAX_PUPILS, MAX_TEXT


def _bounded(most: int) -> object:
    """At most `most` distinct choices, duplicates dropped (a forged list of thousands stops here)."""
    def check(form: FlaskForm, field: SelectMultipleField) -> None:
        field.data = list(dict.fromkeys(field.data or []))
        if len(field.data) > most:
            raise ValidationError(f"choose at most {most}")
    return check


def _class_name(form: FlaskForm, field: SelectMultipleField) -> None:
    if any(len(c) > 32 or not c.strip() for c in field.data or []):
        raise ValidationError("choose classes from the list")


class CheckboxesField(SelectMultipleField):
    """A list of tick boxes, one per choice."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class PostForm(FlaskForm):
    """Submit a post for a school account (or change one that is waiting)."""

    account_id = SelectField("School account", coerce=record_id, validate_choice=False)
    text = TextAreaField("Text of the post", validators=[DataRequired(), Length(max=MAX_TEXT)])
    has_images = BooleanField("The post has images")
    has_videos = BooleanField("The post has videos")
    classes = CheckboxesField("Pupils by class (every pupil on roll in the class)", validate_choice=False,
                              validators=[_bounded(MAX_CLASSES), _class_name])
    pupil_ids = CheckboxesField("Pupils by name", coerce=record_id, validate_choice=False,
                                validators=[_bounded(MAX_PUPILS)])


def _moment(form: FlaskForm, field: HiddenField) -> None:
    try:
        datetime.fromisoformat(field.data or "")
    except ValueError:
        raise ValidationError("reload the post and try again") from None


class ApproveForm(FlaskForm):
    """The post checklist: the "Staff conduct" points and the "Before posting" points, word for word."""

    kinds = CheckboxesField("Kind of content", choices=opts([(k, k) for k in CONTENT_KINDS]), validate_choice=False)
    criteria = CheckboxesField("Criteria", choices=opts([(c, c) for c in EVERY_CRITERION]), validate_choice=False)
    seen = HiddenField(validators=[DataRequired(), _moment])  # the post's updated_at as the approver read it


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason (the author reads it)", validators=[DataRequired(), Length(max=2000)])


class ActionForm(FlaskForm):
    """A button that changes something: its CSRF token only."""
