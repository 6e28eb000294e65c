"""Socket.IO packets that junk cannot turn into a traceback.

python-socketio raises from deep inside its dispatch on a packet it cannot read (JSON
nested past the parser's recursion limit, text that is not JSON, a binary packet, an
unknown packet type), and Engine.IO logs each as an error with a traceback. Anteroom sends
only plain JSON events, so anything else is turned into the event `_malformed`, whose
handler answers an error acknowledgement when one was asked for; a CONNECT packet whose
auth cannot be read connects as if it carried none (and is refused without a session).
"""

from __future__ import annotations

from socketio import packet

MALFORMED = "_malformed"
_ACCEPTED = {packet.CONNECT, packet.DISCONNECT, packet.EVENT, packet.ACK}


class SafePacket(packet.Packet):
    def decode(self, encoded_packet):
        try:
            attachments = super().decode(encoded_packet)
        except (ValueError, RecursionError, TypeError, IndexError):
            return self._malformed()
        if self.packet_type not in _ACCEPTED or attachments:
            return self._malformed()
        if self.packet_type == packet.EVENT and not _is_event(self.data):
            return self._malformed()
        return 0

    def _malformed(self) -> int:
        if getattr(self, "packet_type", None) == packet.CONNECT:
            self.data = None
        else:
            self.packet_type = packet.EVENT
            self.data = [MALFORMED]
        self.namespace = getattr(self, "namespace", None)
        self.id = getattr(self, "id", None)
        return 0


def _is_event(data) -> bool:
    return isinstance(data, list) and bool(data) and isinstance(data[0], str)
