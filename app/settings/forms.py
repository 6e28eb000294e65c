"""The provider's own settings: their meeting room in another conferencing product. The
form only reads what was typed; the rules (https links, a name of sensible length) are the
service's (app.services.external_rooms.set_room), whose per-field errors it shows."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField, URLField


class ExternalRoomForm(FlaskForm):
    label = StringField("Name of the room", render_kw={"maxlength": 120})
    host_url = URLField("Host link", render_kw={"maxlength": 2000, "inputmode": "url"})
    guest_url = URLField("Guest link", render_kw={"maxlength": 2000, "inputmode": "url"})

    def show_errors(self, fields: dict[str, str]) -> list[tuple[str, str]]:
        """Put the service's errors on their fields; (field id, message) in form order."""
        for key, message in fields.items():
            field = self._fields.get(key)
            if field is not None and key != "csrf_token":
                field.errors = [message]
        return [(f.id, e) for f in (self.label, self.host_url, self.guest_url) for e in f.errors]
