"""The abuse log's forms: an entry, a follow-up, a screenshot. Choices come from the shared words in
`rules.school_media.abuse_log` (who posted it, what was done) and the school's own accounts."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from admin_web.date_fields import SchoolDateField, required_date
from admin_web.forms import opts, record_id
from rules.school_media.abuse_log import MAX_NAME, MAX_TEXT, MAX_WHERE, PLATFORMS, AbuseAction, PostedBy

SCREENSHOT_HINT = "A PNG, JPEG, GIF or WebP image of at most 5 MB (optional)."


class TickBoxes(SelectMultipleField):
    """Several choices as tick boxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class EntryForm(FlaskForm):
    occurred_on = SchoolDateField("Date it was posted", validators=[required_date])
    account_id = SelectField("School account", coerce=record_id, validate_choice=False, default=0)
    platform = SelectField("Platform (when it was not on a school account)", default="other",
                           choices=opts(list(PLATFORMS.items())))
    account_text = StringField("Where (the account, page or group, when it was not on a school account)",
                               validators=[Optional(), Length(max=MAX_WHERE)])
    posted_text = TextAreaField("What was posted", validators=[Optional(), Length(max=MAX_TEXT)])
    link = StringField("Link to it", validators=[Optional(), Length(max=2048)])
    screenshot = FileField("Screenshot", description=SCREENSHOT_HINT)
    posted_by_kind = RadioField("Posted by", default=PostedBy.UNKNOWN.value,
                                choices=opts([(p.value, p.label) for p in PostedBy]))
    posted_by_name = StringField("Their name, if known", validators=[Optional(), Length(max=MAX_NAME)])
    actions = TickBoxes("Action taken", choices=opts([(a.value, a.label) for a in AbuseAction]))
    action_notes = TextAreaField("Notes on the action taken", validators=[Optional(), Length(max=MAX_TEXT)])


class FollowUpForm(FlaskForm):
    due_on = SchoolDateField("Follow up on", validators=[required_date])
    note = StringField("What to do", validators=[Optional(), Length(max=MAX_TEXT)])


class ScreenshotForm(FlaskForm):
    screenshot = FileField("Add a screenshot", validators=[FileRequired("Choose the screenshot file.")],
                           description=SCREENSHOT_HINT)
