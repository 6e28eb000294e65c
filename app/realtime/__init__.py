"""Socket.IO: connection auth, rooms, publishing and the call-signaling relay.

Everything that emits goes through `app.realtime.publish`.
"""
