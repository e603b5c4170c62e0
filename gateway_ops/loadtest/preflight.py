"""Before a load test: does the gateway answer at all, and which model will the requests ask for?
One clear sentence if either fails, not 1,000 errors."""
from __future__ import annotations

import httpx

from ..client import ClientError, choose_model
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


def model_for_run(url: str, model: str | None, headers: dict[str, str]) -> str:
    """``model``, or the first one the origin lists at ``/v1/models`` (asked with ``headers``).

    :raises LoadTestError: naming the cause when the origin refuses the question (e.g. the key)
    """
    try:
        return choose_model(url, model, headers)
    except ClientError as error:
        raise LoadTestError(str(error)) from None
