"""flask stations create|reissue|revoke|list."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from app.services import stations
from app.services.audit import Actor
from app.services.errors import ServiceError


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    raise SystemExit(1)


def _named(name: str):
    station = stations.station_by_name(name)
    if station is None:
        _fail(f"no station named {name!r}")
    return station


def init_app(app: Flask) -> None:
    group = AppGroup("stations", help="Kiosk stations: create, enroll, revoke.")
    app.cli.add_command(group)

    @group.command("create")
    @click.option("--name", required=True, help="Unique, e.g. 'Cart 3'.")
    @click.option("--site", required=True, help="Where it stands, e.g. 'Elm House, 2nd floor'.")
    @click.option("--organisation", help="Its organisation; needed when there are several.")
    def create(name: str, site: str, organisation: str | None):
        """Create a station; its one-time enrollment code is the last line printed."""
        try:
            station, code = stations.create_station(
                name, site, Actor.system(), organisation=organisation or None
            )
        except ServiceError as exc:
            for field, message in (exc.fields or {}).items():
                click.echo(f"error: {field}: {message}", err=True)
            raise SystemExit(1) from None
        expires = station.enrollment_expires_at.strftime("%Y-%m-%d %H:%M UTC")
        click.echo(f"created station {station.name!r} at {station.site} (id {station.id})")
        click.echo(f"open /kiosk on the device and enter this code (works once, until {expires}):")
        click.echo(code)

    @group.command("reissue")
    @click.option("--name", required=True)
    def reissue(name: str):
        """A new enrollment code (the station's current credential ends); printed last."""
        station = _named(name)
        code = stations.reissue_code(station.id, Actor.system())
        click.echo(f"new enrollment code for {station.name!r}; its old credential is revoked:")
        click.echo(code)

    @group.command("revoke")
    @click.option("--name", required=True)
    def revoke(name: str):
        """Revoke a station: its credential stops working and its screen closes."""
        station = _named(name)
        try:
            stations.revoke_station(station.id, Actor.system())
        except ServiceError as exc:
            _fail(exc.message)
        click.echo(f"revoked station {station.name!r}")

    @group.command("list")
    def list_stations():
        """Every station: state, online, last seen, latest self-test."""
        for row in stations.list_stations(None):
            test = row.self_test["verdict"] if row.self_test else "-"
            online = "online" if row.online else "offline"
            seen = row.last_seen_at or "never"
            click.echo(
                f"{row.name}\t{row.site}\t{row.state}\t{online}\tlast seen {seen}\tself-test {test}"
            )
