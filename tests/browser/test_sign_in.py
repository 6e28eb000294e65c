"""Signing in, as a person at the login page sees it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.support import assert_accessible, screenshot

pytestmark = pytest.mark.browser


def test_a_wrong_password_is_explained_next_to_the_field(people):
    page = people.new_page("visitor")
    page.goto("/provider")
    expect(page).to_have_url(re.compile(r"/auth/login"))
    assert_accessible(page, "the sign-in page")

    page.get_by_label("Email").fill("okafor@example.org")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    password = page.get_by_label("Password")
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_accessible_description(
        "That email and password do not match an account."
    )
    expect(page.get_by_label("Email")).to_have_value("okafor@example.org")
    screenshot(page, "sign-in-wrong-password")
    assert_accessible(page, "the sign-in page with an error")

    password.fill("anteroom-demo")
    page.get_by_role("button", name="Sign in").click()
    # Back where they were going, signed in.
    expect(page).to_have_url(re.compile(r"/provider$"))
    expect(page.get_by_role("banner")).to_contain_text("Dr. Ada Okafor")


def test_an_administrator_sees_who_takes_sessions(people, clinic):
    clinic.set_available("lindqvist", True)
    page = people.login("admin")
    expect(page.get_by_role("heading", name="Providers", level=1)).to_be_visible()
    lindqvist = page.get_by_role("listitem").filter(has_text="Dr. Ben Lindqvist")
    expect(lindqvist).to_contain_text("Available")
    expect(lindqvist).to_contain_text("Mental health check-in")
    okafor = page.get_by_role("listitem").filter(has_text="Dr. Ada Okafor")
    expect(okafor).to_contain_text("Unavailable")
    screenshot(page, "admin-overview")
    assert_accessible(page, "the admin's overview")
