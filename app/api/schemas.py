"""The API's schemas: what each route accepts (validated by app.api.openapi.parse) and what
it answers (documented in /api/v1/openapi.json).

Request models are strict (no "true" for true, no 1 for true, no 1.0 for an id) and ignore
fields they do not name, as the API always has. `wording` keeps the messages users have
always seen for a field: (message, note); `invalid` is one message for the whole body when
its service words its refusals that way. Response models name the main fields only (more
may come), so adding a field to an answer never breaks a client or the document.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.models.types import MAX_ID
from app.services.self_tests import LIMITS
from app.services.stations import CODE_LENGTH

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]


class Body(BaseModel):
    """A JSON object sent to a route (or its query string)."""

    model_config = ConfigDict(strict=True, extra="ignore")
    wording: ClassVar[dict[str, tuple[str, str]]] = {}
    invalid: ClassVar[str | None] = None


class Answer(BaseModel):
    """A JSON object a route answers with (its main fields)."""

    model_config = ConfigDict(extra="allow")


# Errors ---------------------------------------------------------------------------------


class ErrorDetail(Answer):
    code: str = Field(description="A stable, machine-readable code (invalid, not_found …).")
    message: str = Field(description="A sentence for a person.")
    fields: dict[str, str] | None = Field(
        None, description="For a refused body: what is wrong with each field, by name."
    )


class Error(BaseModel):
    """The one error format of the API (app/errors.py); extra keys in `error` (a 409's
    current state, a 429's retry_after) depend on the error."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


# Tokens and accounts --------------------------------------------------------------------


class TokenIn(Body):
    wording = {
        "email": ("Send email and password.", "Required."),
        "password": ("Send email and password.", "Required."),
    }
    email: str
    password: str
    label: str | None = Field(None, description="What the token is for (shown in its list).")


class TokenCreated(Answer):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; shown once.")
    id: int
    expires_at: str | None


class TokenOut(Answer):
    id: int
    label: str | None
    created_at: str | None
    expires_at: str | None
    current: bool


class Revoked(Answer):
    revoked: int


class UserPatch(Body):
    active: bool | None = None
    role: str | None = Field(None, description="provider, requester, scheduler or admin.")


class UserOut(Answer):
    id: int
    email: str
    name: str
    role: str
    active: bool


class Named(Answer):
    id: int
    name: str


class ServiceOut(Named):
    pass


class ProviderOut(Answer):
    id: int
    name: str
    available: bool
    services: list[ServiceOut]


class AvailabilityIn(Body):
    available: bool


class AvailabilityOut(Answer):
    available: bool


# Requests ---------------------------------------------------------------------------------


class RequestIn(Body):
    provider_id: Id
    service_id: Id | None = None


class DeclineIn(Body):
    note: str | None = None


class RequestOut(Answer):
    id: int
    state: Literal["pending", "accepted", "declined", "cancelled", "expired"]
    requester: Named
    provider: Named
    service: ServiceOut | None
    dismissed: bool
    visit_id: int | None
    created_at: str | None
    updated_at: str | None
    decline_note: str | None = None
    decline_reason: str | None = None
    position: int | None = Field(None, description="While pending: place in the queue.")
    estimated_wait_seconds: float | None = None


class VisitEnded(Answer):
    id: int
    state: str


# Clinics, booking and the schedule ------------------------------------------------------


class ClinicIn(Body):
    name: str | None = None
    organisation: str | None = None
    timezone: str | None = Field(None, description="An IANA zone, such as Europe/London.")


class MemberIn(Body):
    email: str | None = None


class Member(Answer):
    id: int
    name: str
    role: str


class ClinicOut(Answer):
    id: int
    name: str
    organisation: str
    timezone: str
    members: list[Member]


class PersonIn(Body):
    name: str | None = None
    email: str | None = None
    mobile: str | None = Field(None, description="A mobile number, written as E.164 if it can.")
    mrn: str | None = Field(None, description="A patient's medical record number.")
    description: str | None = Field(None, description="Who they are (not for a patient).")


_BOOKING = "The visit could not be booked."


class BookVisitIn(Body):
    wording = {
        "clinic_id": ("clinic_id is required.", "Choose a clinic."),
        "host_id": ("host_id must be an id.", "Not an id."),
        "start": (_BOOKING, "Choose a date and time."),
        "duration_minutes": (_BOOKING, "Choose how many minutes."),
        "patient": (_BOOKING, "Enter the person's details."),
        "participants": (_BOOKING, "Send a list of participants."),
    }
    clinic_id: Id
    start: Time | None = Field(None, description="ISO 8601 with its UTC offset.")
    patient: PersonIn | None = None
    duration_minutes: int | None = None
    host_id: Id | None = Field(None, description="Who hosts (a provider asks for themselves).")
    participants: list[PersonIn] | None = None
    external: bool = Field(False, description="Held in the host's external room.")


class ScheduleQuery(Body):
    wording = {"filter": ("filter must be all, live or invites.", "Unknown.")}
    filter: Literal["all", "live", "invites"] = "all"
    date: str | None = Field(
        None,
        description="YYYY-MM-DD (default: today in the clinic's zone).",
        json_schema_extra={"format": "date"},
    )
    q: str | None = Field(None, description="Search by name (up to 100 characters used).")


class PatientRef(Answer):
    id: int | None
    name: str | None
    mrn: str | None


class Invitee(Answer):
    id: int
    name: str | None
    role: str
    description: str | None
    presence: str


class ScheduleRow(Answer):
    id: int
    clinic_id: int | None
    source: str
    external: bool
    state: str
    status: str
    status_label: str
    waiting_since: str | None
    provider_name: str | None
    provider_id: int | None
    scheduled_for: str | None
    start: str | None
    duration_minutes: int | None
    created_at: str | None
    host: Named
    patient: PatientRef
    participants: list[Invitee]


class Schedule(Answer):
    date: str
    version: int
    visits: list[ScheduleRow]


class TasksQuery(Body):
    all: str | None = Field(None, description="1: closed tasks too (anything else: open ones).")


class TextIn(Body):
    text: str | None = None


class TaskOut(Answer):
    id: int
    visit_id: int
    clinic_id: int | None
    text: str
    patient: str | None
    scheduled_for: str | None
    created_by: str
    created_at: str | None
    closed_by: str | None
    closed_at: str | None


_LINK = "Enter an https:// link."
# No control characters: not in a link, and PostgreSQL cannot store a NUL.
Link = Annotated[str, Field(pattern=r"^[^\x00-\x1f\x7f]*$")]


class ExternalRoomIn(Body):
    invalid = "The room could not be saved."
    wording = {
        "label": (invalid, "Enter a name for the room."),
        "host_url": (invalid, _LINK),
        "guest_url": (invalid, _LINK),
    }
    host_url: Link | None = Field(None, description="An https:// link for the host.")
    guest_url: Link | None = Field(None, description="An https:// link for guests.")
    label: str | None = None


class ExternalRoomOut(Answer):
    label: str
    host_url: str
    guest_url: str
    updated_at: str | None


class Links(Answer):
    patient_link: str | None
    staff_link: str | None
    external: bool


class SendIn(Body):
    wording = {"channel": ("channel must be email or sms.", "Unknown.")}
    channel: Literal["email", "sms"] | None = None


class Sent(Answer):
    accepted: bool
    channel: str


class Actor(Answer):
    kind: str
    id: int | None
    label: str | None


class AuditOut(Answer):
    id: int
    at: str | None
    actor: Actor
    action: str
    visit_id: int | None
    patient_id: int | None
    detail: Any = None
    hash: str


class WaitingMessageOut(Answer):
    id: int
    visit_id: int
    author: str
    text: str
    at: str | None


# People of a visit ------------------------------------------------------------------------


class ParticipantIn(Body):
    invalid = "Check the person's details."
    name: str | None = None
    email: str | None = None
    mobile: str | None = None
    description: str | None = None


class PersonOut(Answer):
    id: int
    name: str | None
    role: str
    presence: str
    status: str
    waiting_since: str | None
    reconnecting: bool
    held: bool
    description: str | None


class SnapshotOut(Answer):
    id: int
    visit_id: int
    participant_id: int
    name: str | None
    state: str
    requested_at: str | None
    answered_at: str | None
    saved_at: str | None
    url: str | None


# Chat and notes ---------------------------------------------------------------------------


class Author(Answer):
    participant_id: int
    name: str | None
    role: str


class AttachmentOut(Answer):
    id: int
    name: str
    content_type: str
    size: int
    url: str


class ChatMessageOut(Answer):
    id: int
    visit_id: int
    author: Author
    text: str | None
    sent_at: str | None
    attachment: AttachmentOut | None = None


class ChatUpload(BaseModel):
    """A chat message with a file (multipart/form-data)."""

    file: bytes = Field(json_schema_extra={"format": "binary"})
    text: str | None = None


class NoteOut(Answer):
    id: int
    visit_id: int
    text: str
    written_at: str | None


class NotesQuery(Body):
    visit_id: str | None = Field(None, description="Visit ids separated by commas (1,2,3).")


class NotedVisit(Answer):
    visit_id: int
    count: int
    last_written_at: str | None
    clinic_id: int | None
    state: str
    starts_at: str | None


# Stations and the self-test ---------------------------------------------------------------


class EnrollIn(Body):
    wording = {
        "code": (f"Enter the {CODE_LENGTH}-character enrollment code.", "Not an enrollment code.")
    }
    code: str | None = Field(None, description="The one-time enrollment code.")


class StationOut(Answer):
    id: int
    name: str
    site: str | None


class Enrolled(Answer):
    station_token: str
    station: StationOut


class StationRow(Answer):
    id: int
    name: str
    state: str
    online: bool


class StationListing(Answer):
    now: str
    online_seconds: int | float
    stations: list[StationRow]


class OfferIn(Body):
    wording = {
        "type": ("Send the offer as {type: 'offer', sdp}.", "Not 'offer'."),
        "sdp": ("The offer is not an SDP offer.", "Not an SDP offer."),
    }
    type: Literal["offer"]
    sdp: str = Field(description="The browser's SDP offer (v=0 …).")


class AnswerOut(Answer):
    type: Literal["answer"]
    sdp: str


class SelfTestIn(Body):
    model_config = ConfigDict(strict=True, extra="forbid")
    wording = {
        name: (f"{name} must be a number from 0 to {limit:g}, or null.", "Out of range.")
        for name, limit in LIMITS.items()
    } | {"details": ("details holds short text, numbers and true/false only.", "Not an object.")}
    camera_ok: bool
    microphone_ok: bool
    round_trip_ms: float | None = Field(None, ge=0, le=LIMITS["round_trip_ms"])
    packet_loss: float | None = Field(None, ge=0, le=LIMITS["packet_loss"])
    bitrate_kbps: float | None = Field(None, ge=0, le=LIMITS["bitrate_kbps"])
    details: dict[str, str | int | float | bool | None] | None = Field(
        None, description="Short text, numbers and true/false by name."
    )
    verdict: str | None = Field(None, description="The page's verdict; must match the server's.")


class SelfTestOut(Answer):
    id: int
    verdict: str
    label: str
    advice: list[Any]
    camera_ok: bool
    microphone_ok: bool
    round_trip_ms: float | None
    packet_loss: float | None
    bitrate_kbps: float | None
    station_id: int | None
    tested_at: str | None


class LatestSelfTest(Answer):
    self_test: SelfTestOut | None
    blocks_request: bool
    ice_servers: list[dict[str, Any]]
