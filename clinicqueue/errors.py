"""The domain's refusals."""


class InvalidTransition(Exception):
    """A move the state machine does not allow from the current state."""

    def __init__(self, machine: str, state: str, action: str):
        self.machine = machine
        self.state = state
        self.action = action
        super().__init__(f"cannot {action} a {machine} that is {state}")


class RequestBlocked(Exception):
    """A requester may not ask this provider again yet."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)
