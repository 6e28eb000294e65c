"""The password policy and argon2id hashing (app.services.passwords), and free text made
safe to store (app.services.text) where people type it: names, labels, decline notes."""

from __future__ import annotations

import unicodedata

import pytest
from sqlalchemy import select, update

from app.extensions import db
from app.models import Role, User
from app.services.errors import Invalid
from app.services.passwords import hash_password, password_problem, verify_password
from app.services.text import clean_line, clean_text
from app.services.users import authenticate, create_user
from tests.app.helpers import request_row

TOO_SHORT = "Use at least 12 characters."
PERSONAL = "Do not use your name or email address in your password."
STRONG = "violet kettle orbit drum"

# The policy ------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["", "short", "elevenchars", "Tr0ub4dor&3"])
def test_a_password_under_12_characters_is_refused(password):
    assert password_problem(password) == TOO_SHORT


@pytest.mark.parametrize(
    ("password", "hint"),
    [
        ("password1234", "This is a very common password."),
        ("aaaaaaaaaaaa", 'Repeats like "aaa" are easy to guess.'),
        ("qwertyuiop12", "This is similar to a commonly used password."),
        ("abcdefghijkl", ""),
        ("123456789012", ""),
        # zxcvbn scores these 2 of 4: one short of the policy
        ("Charlie2020!", "This is similar to a commonly used password."),
        ("correcthorse", "It would be easy to guess."),
    ],
)
def test_a_long_but_guessable_password_is_refused_with_a_reason(password, hint):
    problem = password_problem(password, "nurse@example.org", "Nina Nurse")

    assert problem is not None
    assert problem.startswith("Choose a stronger password.")
    assert hint in problem
    assert len(problem) > len("Choose a stronger password.")


@pytest.mark.parametrize(
    ("password", "email", "name"),
    [
        ("jane.doe violet kettle", "jane.doe@example.org", "Someone Else"),
        ("violet JANEDOE kettle", "janedoe@example.org", "Someone Else"),
        ("violet kettle okonkwo 7", "ada@example.org", "Dr. Ada Okonkwo"),
        ("riverside violet kettle", "desk@riverside.example", "Front Desk"),
    ],
    ids=["email local part", "local part, any case", "part of the name", "email domain"],
)
def test_a_password_built_from_the_accounts_own_words_is_refused(password, email, name):
    assert password_problem(password, email, name) == PERSONAL


@pytest.mark.parametrize("password", [STRONG, "correct horse battery", "Moth-lantern 4 quietly"])
def test_a_strong_passphrase_is_accepted(password):
    assert password_problem(password, "nurse@example.org", "Nina Nurse") is None


def test_a_password_over_1024_characters_is_refused():
    assert password_problem("violet kettle " * 80) == "Use at most 1024 characters."


@pytest.mark.parametrize(
    ("password", "problem"),
    [("password1234", "Choose a stronger password."), ("nina-nurse-at-dawn", PERSONAL)],
)
def test_create_user_refuses_a_weak_password_and_creates_nobody(ctx, password, problem):
    with pytest.raises(Invalid) as refused:
        create_user("nina@example.org", "Nina Nurse", "requester", password)

    assert refused.value.fields["password"].startswith(problem)
    assert db.session.scalar(select(User).where(User.email == "nina@example.org")) is None


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("password1234", "error: password: Choose a stronger password."),
        ("nina-nurse-at-dawn", f"error: password: {PERSONAL}"),
    ],
)
def test_cli_refuses_a_weak_password_without_a_traceback(app, monkeypatch, password, message):
    monkeypatch.delenv("ANTEROOM_PASSWORD", raising=False)
    args = ["users", "create", "--email", "nina@example.org", "--name", "Nina Nurse"]

    result = app.test_cli_runner().invoke(
        args=[*args, "--role", "requester"], input=password + "\n"
    )

    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "nina@example.org")) is None
        db.session.rollback()


# Hashing ---------------------------------------------------------------------------------


def test_hashes_are_salted_argon2id_and_verify_only_the_right_password():
    first, second = hash_password(STRONG), hash_password(STRONG)

    assert first.startswith("$argon2id$")
    assert first != second
    assert verify_password(first, STRONG)
    assert verify_password(second, STRONG)
    assert not verify_password(first, STRONG.upper())
    assert not verify_password(first, "")
    assert STRONG not in first


MALFORMED = [
    "",
    "not-a-hash",
    "$argon2id$",
    "$argon2id$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$!!!!",
    "$argon2id$v=19$m=65536,t=3,p=0$c29tZXNhbHQ$aGFzaGhhc2g",
    "$argon2id$v=999$m=65536,t=3,p=4$c29tZXNhbHQ$aGFzaGhhc2g",
    "$2b$12$abcdefghijklmnopqrstuuJQ7RTCZ5lqB1x8M5d3Dq5vC8i0gqK6S",  # bcrypt
    "pbkdf2:sha256:600000$salt$deadbeef",  # Werkzeug's format
]


@pytest.mark.parametrize("stored", MALFORMED)
def test_a_malformed_hash_never_matches_and_never_raises(stored):
    assert verify_password(stored, STRONG) is False


def test_a_truncated_hash_never_matches():
    assert verify_password(hash_password(STRONG)[:-6], STRONG) is False


def test_a_hash_with_non_ascii_characters_never_raises():
    assert verify_password("$argon2id$v=19$m=65536,t=3,p=4$séel$hâsh", STRONG) is False


@pytest.mark.parametrize("stored", MALFORMED[:4])
def test_an_account_with_a_malformed_hash_cannot_sign_in(app, make_user, stored):
    user = make_user(Role.REQUESTER)
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(password_hash=stored))
        db.session.commit()
        assert authenticate(user.email, "correct horse battery") is None
        assert authenticate(user.email, stored) is None
        db.session.rollback()


# Free text -------------------------------------------------------------------------------

BIDI = [
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
    "\u200e",
    "\u200f",
    "\u061c",
]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"]


@pytest.mark.parametrize("char", BIDI + CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_line_removes_bidi_and_control_characters(char):
    assert clean_line(f"{char}Dr. {char}Smith{char}") == "Dr. Smith"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("  Dr.\t\tAda \n\r Okafor  ", "Dr. Ada Okafor"),
        ("Ward\u00a03", "Ward 3"),
        ("Jose\u0301", "Jos\u00e9"),  # NFC: the composed é
        ("", ""),
        (None, ""),
    ],
)
def test_clean_line_collapses_whitespace_and_normalises(raw, clean):
    assert clean_line(raw) == clean


def test_clean_line_stores_the_same_name_the_same_way_whatever_typed_it():
    composed, decomposed = "Zoë Ångström", unicodedata.normalize("NFD", "Zoë Ångström")
    assert composed != decomposed

    assert clean_line(composed) == clean_line(decomposed) == composed


def test_clean_line_removes_a_bidi_mark_without_leaving_a_gap():
    assert clean_line("Room 12\u200f-A") == "Room 12-A"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("first line\r\nsecond line\rthird", "first line\nsecond line\nthird"),
        ("dose:\t5 mg\nthen\t10 mg", "dose:\t5 mg\nthen\t10 mg"),
        ("Call back\u202e tomorrow\x00\x07\n\nThanks", "Call back tomorrow\n\nThanks"),
        ("\u2066  padded  \n", "padded"),
        ("Jose\u0301", "Jos\u00e9"),
    ],
)
def test_clean_text_keeps_lines_and_tabs_and_removes_the_rest(raw, clean):
    assert clean_text(raw) == clean


@pytest.mark.parametrize("char", BIDI + CONTROLS, ids=lambda c: f"U+{ord(c):04X}")
def test_clean_text_removes_bidi_and_control_characters(char):
    assert clean_text(f"a{char}b\nc{char}") == "ab\nc"


def test_a_name_is_stored_without_bidi_overrides(app, make_user):
    user = make_user(Role.PROVIDER, name="Dr. \u202eAda\u202c Okafor\x00")

    with app.app_context():
        stored = db.session.get(User, user.id).name
        db.session.rollback()
    assert stored == "Dr. Ada Okafor"


@pytest.fixture
def pending_request(make_user, api):
    provider = make_user(Role.PROVIDER, available=True)
    requester = make_user(Role.REQUESTER)
    p_token = api.token(provider)
    response = api.post("/requests", api.token(requester), json={"provider_id": provider.id})
    assert response.status_code == 201
    return response.get_json()["id"], p_token


def test_a_decline_note_keeps_its_line_breaks(api, pending_request):
    request_id, p_token = pending_request

    response = api.post(
        f"/requests/{request_id}/decline", p_token, json={"note": "Not today.\nTry at 3."}
    )

    assert response.status_code == 200
    assert request_row(api.app, request_id)["decline_note"] == "Not today.\nTry at 3."


def test_a_decline_note_is_stored_without_bidi_overrides_or_control_characters(
    api, pending_request
):
    request_id, p_token = pending_request
    note = "Not \u202etoday.\x00\nTry at 3.\x07"

    response = api.post(f"/requests/{request_id}/decline", p_token, json={"note": note})

    assert response.status_code == 200
    assert request_row(api.app, request_id)["decline_note"] == "Not today.\nTry at 3."


# Accounts: what else the form of a new account must get right -----------------------------


@pytest.mark.parametrize(
    ("email", "name", "role", "field"),
    [
        ("not-an-email", "Nurse Joy", "requester", "email"),
        ("x" * 250 + "@e.org", "Nurse Joy", "requester", "email"),
        ("joy@example.org", "  \u202e ", "requester", "name"),
        ("joy@example.org", "N" * 121, "requester", "name"),
        ("joy@example.org", "Nurse Joy", "superuser", "role"),
    ],
)
def test_an_account_with_a_bad_field_is_refused_and_not_saved(ctx, email, name, role, field):
    with pytest.raises(Invalid) as refused:
        create_user(email, name, role, STRONG)

    assert set(refused.value.fields) == {field}
    assert db.session.scalar(select(User).where(User.email == email.lower())) is None


def test_the_same_email_cannot_have_two_accounts_whatever_its_case(ctx):
    create_user("joy@example.org", "Nurse Joy", "requester", STRONG)

    with pytest.raises(Invalid) as refused:
        create_user("  JOY@Example.org ", "Another Joy", "requester", STRONG)

    assert refused.value.fields == {"email": "An account with this email already exists."}
