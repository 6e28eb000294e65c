"""The invite form. It only reads what was typed: every rule about a booking (a future
start, a provider of the clinic, email or mobile, at most three others) is the booking
service's (app.services.invitations.book_visit), whose per-field errors the form shows."""

from __future__ import annotations

from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    SelectField,
    StringField,
    TelField,
    TimeField,
)

from app.services.invitations import MAX_MINUTES, MAX_PARTICIPANTS, MIN_MINUTES
from clinicqueue.schedule import zone


class ParticipantForm(Form):
    """Someone invited along with the patient (a relative, an interpreter, a nurse)."""

    name = StringField("Name")
    email = EmailField("Email")
    mobile = TelField("Mobile number")
    description = StringField("Role or job title")

    def is_blank(self) -> bool:
        return not any((f.data or "").strip() for f in (self.name, self.email, self.mobile))

    def as_person(self) -> dict:
        return {
            "name": self.name.data,
            "email": self.email.data,
            "mobile": self.mobile.data,
            "description": self.description.data,
        }


class InviteForm(FlaskForm):
    host_id = SelectField("Hosting provider", choices=[], validate_choice=False)
    date = DateField("Date")
    time = TimeField("Time")
    duration_minutes = IntegerField(
        "Duration (minutes)",
        render_kw={"min": MIN_MINUTES, "max": MAX_MINUTES, "step": 5, "inputmode": "numeric"},
    )
    external = BooleanField("Hold it in the host's external meeting room")
    patient_name = StringField("Patient's name")
    patient_email = EmailField("Email")
    patient_mobile = TelField("Mobile number")
    patient_mrn = StringField("MRN (optional)")
    participants = FieldList(FormField(ParticipantForm), max_entries=MAX_PARTICIPANTS)
    participants_error: str | None = None  # about the list as a whole (too many)

    def starts_at(self, timezone: str) -> datetime | None:
        """The start as an aware time in the clinic's zone; None when either part is
        missing or unreadable (the service then asks for a date and time)."""
        if self.date.data is None or self.time.data is None:
            return None
        return datetime.combine(self.date.data, self.time.data, tzinfo=zone(timezone))

    def host_choice(self) -> int | str | None:
        """The chosen provider's id; None for no choice. Anything else is passed on as it
        came, for the service to refuse."""
        raw = (self.host_id.data or "").strip()
        if not raw:
            return None
        return int(raw) if raw.isdigit() and len(raw) < 19 else raw

    def duration(self) -> int | str:
        """Minutes as typed: a number, or the text itself (the service refuses it, so a
        mistyped duration never silently becomes the default)."""
        if self.duration_minutes.data is not None:
            return self.duration_minutes.data
        return (self.duration_minutes.raw_data or [""])[0]

    def patient(self) -> dict:
        return {
            "name": self.patient_name.data,
            "email": self.patient_email.data,
            "mobile": self.patient_mobile.data,
            "mrn": self.patient_mrn.data,
        }

    def others(self) -> list[tuple[int, dict]]:
        """The extra participants to book with their place on the form; entries left
        entirely empty are dropped (an ADD pressed once too often)."""
        return [
            (i, entry.form.as_person())
            for i, entry in enumerate(self.participants.entries)
            if not entry.form.is_blank()
        ]

    def show_errors(self, fields: dict[str, str], places: list[int]) -> list[tuple[str, str]]:
        """Put the service's errors ("patient.email", "participants.0.mobile", "start", …)
        on the fields they are about; returns (field id, message) in form order for the
        summary at the top."""
        simple = {
            "host_id": self.host_id,
            "start": self.date,
            "duration_minutes": self.duration_minutes,
            "external_room": self.external,
            "patient": self.patient_name,
            "patient.name": self.patient_name,
            "patient.email": self.patient_email,
            "patient.mobile": self.patient_mobile,
            "patient.mrn": self.patient_mrn,
        }
        self.form_errors = []
        self.participants_error = None
        for key, message in fields.items():
            field = simple.get(key)
            if field is None and key.startswith("participants."):
                _, index, name = (key.split(".") + ["", ""])[:3]
                entry = (
                    self.participants.entries[places[int(index)]]
                    if index.isdigit() and int(index) < len(places)
                    else None
                )
                field = entry.form._fields.get(name) if entry is not None else None
            if field is not None:
                field.errors = [message]
            elif key == "participants":
                self.participants_error = message
            else:
                self.form_errors.append(message)
        summary = []
        for whose, field in self._in_order():
            summary.extend((field.id, whose + error) for error in field.errors)
        if self.participants_error:
            summary.append(("add-participant", self.participants_error))
        return summary

    def _in_order(self):
        """(whose field it is, the field) in the order the form shows them."""
        for field in (self.host_id, self.date, self.duration_minutes, self.external):
            yield "", field
        for field in (self.patient_name, self.patient_email, self.patient_mobile, self.patient_mrn):
            yield "", field
        for number, entry in enumerate(self.participants.entries, start=1):
            for field in entry.form:
                yield f"Participant {number}: ", field
