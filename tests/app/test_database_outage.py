"""A database that does not answer: every caller gets a clean 503 that says to try again,
never a 500 or a trace. (tests/multi/test_faults.py cuts a real one under live servers.)"""

from __future__ import annotations

import logging
import re

from tests.app.helpers import assert_error, assert_no_trace, separate_app

CLOSED_PORT = 1  # nothing listens there: connections are refused at once
UNREACHABLE = f"postgresql://anteroom:secret-password@127.0.0.1:{CLOSED_PORT}/test"


def test_an_api_call_while_the_database_is_down_is_a_503_with_a_message(tmp_path, caplog):
    with separate_app(UNREACHABLE, tmp_path) as other, caplog.at_level(logging.WARNING):
        response = other.test_client().get(
            "/api/v1/providers", headers={"Authorization": "Bearer not-checked-yet"}
        )

    error = assert_error(response, 503, "unavailable")
    assert error["message"] == "The service is briefly unavailable. Please try again in a moment."
    assert response.headers["Retry-After"] == "5"
    body = response.get_data(as_text=True)
    assert "secret-password" not in body and "127.0.0.1" not in body
    [logged] = [r for r in caplog.records if r.name == "app.requests"]
    assert logged.getMessage() == "database unavailable on GET /api/v1/providers: OperationalError"
    assert logged.exc_info is None  # an outage is one line, not a traceback


def test_signing_in_while_the_database_is_down_is_a_page_that_says_so(tmp_path):
    with separate_app(UNREACHABLE, tmp_path) as other:
        client = other.test_client()
        form = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        response = client.post(
            "/auth/login",
            data={"email": "okafor@example.org", "password": "anteroom-demo", "csrf_token": token},
        )

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.get_data(as_text=True)
    assert_no_trace(response)
