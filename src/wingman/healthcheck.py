"""`python -m wingman.healthcheck`: the container image's HEALTHCHECK, for either role.

Exit 0 when this container's Wingman process answers GET /api/health with 200: a gateway on
WINGMAN_PORT (default 8000), an agent worker on WINGMAN_METRICS_PORT (default 9464). The image
runs either command, so both are tried; only one of them listens in a given container.
Standard library only, so a check costs a few milliseconds and no imports of the app.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request

PATH = "/api/health"


def ports(env: dict[str, str] | os._Environ[str] = os.environ) -> list[int]:
    """The ports to try, gateway first."""
    return [int(env.get("WINGMAN_PORT", "8000")), int(env.get("WINGMAN_METRICS_PORT", "9464"))]


def healthy(port: int, *, timeout: float = 3.0) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{PATH}", timeout=timeout) as reply:  # noqa: S310
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def main() -> int:
    return 0 if any(healthy(p) for p in ports()) else 1


if __name__ == "__main__":
    sys.exit(main())
