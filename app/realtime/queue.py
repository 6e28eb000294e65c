"""The Redis message queue between web instances, and what happens when Redis goes away.

Every emit goes through Redis, also to this instance's own clients. While Redis is down
(or an instance's subscription to it is broken) events are lost: python-socketio gives up
on a publish after two tries and re-subscribes later, without telling anyone. A page only
notices a lost event when the same stream's next one arrives with a gap in its version,
and a stream that goes quiet never does.

So the manager says so itself: after its subscription comes back, and after a publish
that had to be given up succeeds again, it broadcasts `stale`. Every page then asks for a
fresh snapshot of each stream it follows (live.js spreads those over a few seconds).
"""

import time

import socketio

STALE = "stale"


class RedisManager(socketio.RedisManager):
    """python-socketio's Redis manager, broadcasting `stale` once events may have been lost."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.publish_failed = False

    def _publish(self, data):
        sent = super()._publish(data)  # the number of subscribers, or None when it gave up
        if sent is None:
            self.publish_failed = True
        elif self.publish_failed:
            self.publish_failed = False
            self.announce_stale()
        return sent

    def _redis_listen_with_retries(self):
        """Subscribe, and on any error re-subscribe after 1, 2, 4 … 60 s (as the parent
        does); a re-subscription announces that what was published meanwhile is lost."""
        retry_sleep = 1
        failed = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                retry_sleep = 1
                if failed:
                    failed = False
                    self.announce_stale()
                yield from self.pubsub.listen()
            except Exception as exc:
                failed = True
                self._get_logger().error(
                    "Cannot receive from redis; retrying in %s s", retry_sleep,
                    extra={"redis_exception": str(exc)},
                )  # fmt: skip
                time.sleep(retry_sleep)
                retry_sleep = min(retry_sleep * 2, 60)

    def announce_stale(self) -> None:
        self.emit(STALE, {}, namespace="/")
