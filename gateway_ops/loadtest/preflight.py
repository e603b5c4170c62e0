"""Before a load test: does the gateway answer at all? One clear sentence if not, not 1,000 errors."""
from __future__ import annotations

import httpx

from .errors import LoadTestError


def check_gateway(url: str, timeout_s: float = 10.0) -> None:
    """Asks ``<url>/health`` once.

    :raises LoadTestError: when the gateway cannot be reached or is not healthy
    """
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise LoadTestError(f"The gateway URL must start with http:// or https://, got {url!r}.")
    try:
        response = httpx.get(f"{url}/health", timeout=timeout_s)
    except httpx.HTTPError as error:
        raise LoadTestError(f"The gateway at {url} cannot be reached ({type(error).__name__}): "
                            "start it (`gateway-ops up`) or check GATEWAY_URL / --url.") from None
    if response.status_code != 200:
        raise LoadTestError(f"The gateway at {url} is not healthy: /health answered {response.status_code}.")
