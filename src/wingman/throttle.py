"""Sign-in and sign-up throttles: sliding-window counts per email, client address (IPv6 by
/64) and node, counted before any password is checked, so concurrent guesses all count."""

from __future__ import annotations

import ipaddress
import math
import time
from collections import deque
from collections.abc import Callable

from wingman.errors import WingmanError

LOGIN_WINDOW_SECONDS = 60.0
_MAX_THROTTLE_KEYS = 100_000  # bounded memory under a spray of random emails


class TooManyAttempts(WingmanError):
    """Sign-in refused before checking the password: too many recent failures."""

    code = "rate_limited"

    def __init__(self, retry_after: float, *, what: str = "failed sign-ins") -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many {what}: try again in {self.retry_after} s")


def address_key(address: str) -> str:
    """The unit a client address is counted in: an IPv4 address, or the /64 network of an IPv6
    one (one subscriber gets a whole /64: counting single addresses lets them walk around)."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class LoginThrottle:
    """Sliding-window counts of sign-in attempts per (email, client address), per address and
    per email (addresses are counted by `address_key`: IPv6 by /64).

    `attempt` counts an attempt before its password is checked (40 concurrent guesses for one
    email all pass a check made before any of them failed); `succeeded` takes it back.
    In memory, per process: behind a load balancer each node counts its own share, so the
    effective limit is at most nodes x limit (sticky sessions keep a client on one node).
    """

    def __init__(
        self,
        *,
        per_email_ip: int,
        per_ip: int,
        per_email: int = 0,
        window_seconds: float = LOGIN_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_email_ip = per_email_ip
        self.per_ip = per_ip
        self.per_email = per_email
        self.window = window_seconds
        self._clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def _keys(self, email: str, ip: str) -> tuple[tuple[tuple[str, str], int], ...]:
        ip = address_key(ip)
        return (((email, ip), self.per_email_ip), (("*", ip), self.per_ip), ((email, "*"), self.per_email))

    def check(self, email: str, ip: str) -> None:
        """Raise TooManyAttempts when this email+address, this address or this email is over
        its limit."""
        now = self._clock()
        for key, limit in self._keys(email, ip):
            times = self._recent(key, now)
            if limit > 0 and len(times) >= limit:
                raise TooManyAttempts(self.window - (now - times[0]))

    def failed(self, email: str, ip: str) -> None:
        """Count one failure (or an attempt still being checked)."""
        now = self._clock()
        if len(self._failures) >= _MAX_THROTTLE_KEYS:
            for key in list(self._failures)[: _MAX_THROTTLE_KEYS // 10]:
                self._recent(key, now)  # drops keys whose failures are all old
        for key, _limit in self._keys(email, ip):
            self._failures.setdefault(key, deque()).append(now)

    def attempt(self, email: str, ip: str) -> None:
        """`check`, then count this attempt at once, before any password is looked at."""
        self.check(email, ip)
        self.failed(email, ip)

    def succeeded(self, email: str, ip: str) -> None:
        """A right password: forget this email's attempts from this address, and take this
        attempt back from the address's and the email's counts."""
        keys = self._keys(email, ip)
        self._failures.pop(keys[0][0], None)
        for key, _limit in keys[1:]:
            times = self._failures.get(key)
            if times:
                times.pop()


class SignupThrottle:
    """Sign-ups per client address (/64 for IPv6) and per node, in a sliding hour, counted
    before the account is made (25 simultaneous sign-ups from one address: most are refused)."""

    def __init__(
        self, *, per_address: int, total: int, window_seconds: float = 3600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counts = LoginThrottle(
            per_email_ip=0, per_ip=per_address, per_email=total, window_seconds=window_seconds, clock=clock
        )

    def attempt(self, ip: str) -> None:
        """Count a sign-up from `ip`; TooManyAttempts past either limit."""
        try:
            self._counts.attempt("*signup*", ip)
        except TooManyAttempts as e:
            raise TooManyAttempts(e.retry_after, what="sign-ups") from None
