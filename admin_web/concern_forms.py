"""The safeguarding forms: triage and notes (the DSL), raising a concern by hand (any member of staff), the
school's phrase list. The choices come from the shared words in `rules.safeguarding`, never from copies."""

from __future__ import annotations

import csv
import io

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import RadioField, SelectField, StringField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from admin_web.forms import opts, record_id
from rules.safeguarding.categories import Category, Severity
from rules.safeguarding.phrasefile import INNOCENT, OFF
from rules.safeguarding.states import ConcernState, EscalatedTo, Subject

MAX_TEXT = 4000  # as the service's limit on a note, a reason or what was reported
SEVERITY_WORDS = {Severity.HIGH: "High: a child may be at risk now (the DSL is emailed at once)",
                  Severity.MEDIUM: "Medium: to look at today",
                  Severity.LOW: "Low: worth recording"}
OUTCOMES = {ConcernState.NO_CONCERN: "No concern (a false positive: say why)",
            ConcernState.RECORD_MADE: "Record made (on the pupil's safeguarding file)",
            ConcernState.ESCALATED: "Escalated (say to whom)"}
SUBJECTS = {Subject.PUPIL: "A pupil", Subject.STAFF: "A member of staff", Subject.HEADTEACHER: "The headteacher"}
CATEGORY_CHOICES = [(c.value, c.label) for c in Category]


def _reason_for_no_concern(form: FlaskForm, field: TextAreaField) -> None:
    if form.state.data == ConcernState.NO_CONCERN and not (field.data or "").strip():
        raise ValidationError("Say why this is no concern: the reason is kept, and counted against the phrase.")


def _escalated_to_whom(form: FlaskForm, field: SelectField) -> None:
    if form.state.data == ConcernState.ESCALATED and not field.data:
        raise ValidationError("Choose to whom it was escalated.")


class TriageForm(FlaskForm):
    state = RadioField("Outcome", choices=opts(list(OUTCOMES.items())), validators=[InputRequired()])
    reason = TextAreaField("Reason (required for no concern)",
                           validators=[Length(max=MAX_TEXT), _reason_for_no_concern])
    escalated_to = SelectField("Escalated to", choices=opts([("", "—"), *[(e.value, e.label) for e in EscalatedTo]]),
                               default="", validators=[_escalated_to_whom])
    note = TextAreaField("Notes (what was done, who was told)", validators=[Optional(), Length(max=MAX_TEXT)])


class NoteForm(FlaskForm):
    text = TextAreaField("Add a note", validators=[DataRequired(), Length(max=MAX_TEXT)])


class PersonForm(FlaskForm):
    person = StringField("Pupil or member of staff (their name as recorded)",
                         validators=[DataRequired(), Length(max=128)])


class RaiseForm(FlaskForm):
    """"A pupil told me something": routed as any concern is, by who it is about."""

    subject = RadioField("Who is it about?", default=Subject.PUPIL.value, choices=opts(list(SUBJECTS.items())),
                         validators=[InputRequired()])
    person = StringField("Their name", validators=[Optional(), Length(max=128)],
                         description="As the school records it. Leave empty if you do not know.")
    device_id = SelectField("Their device (if known)", coerce=record_id, validate_choice=False, default=0)
    category = SelectField("What is it about?", choices=opts(CATEGORY_CHOICES), validators=[InputRequired()])
    severity = RadioField("How urgent?", default=Severity.MEDIUM.value, choices=opts(list(SEVERITY_WORDS.items())),
                          validators=[InputRequired()])
    what = TextAreaField("What happened", validators=[DataRequired(), Length(max=MAX_TEXT)],
                         description="What you saw or were told, when, and what you have done. Facts, in their "
                                     "words where you can.")

    def validate(self, extra_validators: object = None) -> bool:
        """Every field, and then: a name or a device (either is enough to know whom it is about)."""
        valid = super().validate(extra_validators)
        if not (self.person.data or "").strip() and not self.device_id.data:
            self.person.errors = [*self.person.errors, "Give their name or choose their device."]
            return False
        return valid


PHRASE_KINDS = [*CATEGORY_CHOICES, (INNOCENT, "Innocent phrase (keeps matches that share a word with it quiet)"),
                (OFF, "Switch off the built-in phrase written exactly so")]


class PhraseForm(FlaskForm):
    """One row of the school's phrase file, field by field; `line()` writes it as the file's CSV line."""

    phrase = StringField("Phrase", validators=[DataRequired(), Length(max=500)],
                         description="Words in order; (a|b) alternatives, word* a word beginning so, * any one word.")
    kind = SelectField("Category", choices=opts(PHRASE_KINDS), validators=[InputRequired()])
    severity = SelectField("Severity", choices=opts([("", "— (innocent or off)"), *[(s.value, s.value)
                                                                                    for s in Severity]]))
    why = StringField("Why it is there", validators=[DataRequired(), Length(max=1000)],
                      description="The DSL reads this with every concern the phrase raises.")
    unless = StringField("Innocent contexts (optional)", validators=[Optional(), Length(max=1000)],
                         description="Separated by ; — when one appears in the same text, the phrase raises nothing.")

    def line(self) -> str:
        fields = [(self.phrase.data or "").strip(), self.kind.data or "", self.severity.data or "",
                  (self.why.data or "").strip()]
        if (self.unless.data or "").strip():
            fields.append(self.unless.data.strip())
        out = io.StringIO()
        csv.writer(out, lineterminator="").writerow(fields)
        return out.getvalue()


class PhraseImportForm(FlaskForm):
    file = FileField("Phrase file (CSV, UTF-8)", validators=[FileRequired()])


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
