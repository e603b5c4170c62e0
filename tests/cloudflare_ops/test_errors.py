"""Every SDK error becomes one actionable sentence (and the client fails fast: one retry)."""
from __future__ import annotations

import httpx
import pytest

from gateway_ops.cloudflare import errors
from gateway_ops.cloudflare.resources import find_kv_namespace

from .fake_cloudflare import ACCOUNT, TOKEN, error_response

KV_PATH = r"/storage/kv/namespaces$"

CASES = [
    # (injected outcome, times, error class, words the sentence must contain)
    (error_response(401, 10000, "Authentication error"), 1, errors.CloudflareAuthError,
     ["rejected the API token", "CLOUDFLARE_API_TOKEN", "code 10000: Authentication error"]),
    (error_response(403, 10000, "Authentication error"), 1, errors.CloudflarePermissionError,
     ["Workers KV Storage Edit", "CLOUDFLARE_ACCOUNT_ID", "listing KV namespaces"]),
    (error_response(404, 7003, "Could not route to /accounts/x/storage/kv/namespaces"), 1,
     errors.CloudflareNotFoundError, ["CLOUDFLARE_ACCOUNT_ID", "code 7003"]),
    (error_response(400, 10001, "per_page must be at most 1000"), 1, errors.CloudflareRequestError,
     ["refused the request", "HTTP 400", "per_page must be at most 1000"]),
    (error_response(429, 971, "Please wait and consider throttling your request speed"), 2,
     errors.CloudflareRateLimitError, ["rate limit", "safe to repeat"]),
    (error_response(500, 10013, "An unknown error has occurred"), 2, errors.CloudflareServerError,
     ["HTTP 500", "cloudflarestatus.com"]),
    (httpx.ConnectError("[Errno -2] Name or service not known"), 2, errors.CloudflareNetworkError,
     ["Could not reach Cloudflare's API", "network connection"]),
    (httpx.ReadTimeout("timed out"), 2, errors.CloudflareNetworkError, ["did not answer in time"]),
]


@pytest.mark.parametrize("outcome, times, error_class, words", CASES,
                         ids=["401", "403", "404", "400", "429", "500", "no-dns", "timeout"])
def test_each_sdk_error_becomes_one_sentence(fake, client, outcome, times, error_class, words):
    fake.inject("GET", KV_PATH, outcome, times=times)
    with pytest.raises(error_class) as caught:
        find_kv_namespace(client, ACCOUNT, "anything")
    message = str(caught.value)
    for word in words:
        assert word in message, message
    assert "\n" not in message and message.endswith(".") and TOKEN not in message
    assert isinstance(caught.value, errors.CloudflareError)


@pytest.mark.parametrize("status", [500, 429])
def test_the_client_retries_exactly_once_then_gives_up(fake, client, status):
    fake.inject("GET", KV_PATH, error_response(status, 10013, "boom"), times=5)
    with pytest.raises(errors.CloudflareError):
        find_kv_namespace(client, ACCOUNT, "anything")
    assert len(fake.requests) == 2  # max_retries=1: the facilitator waits seconds, not minutes


def test_a_403_is_not_retried(fake, client):
    fake.inject("GET", KV_PATH, error_response(403, 10000, "Authentication error"), times=5)
    with pytest.raises(errors.CloudflarePermissionError):
        find_kv_namespace(client, ACCOUNT, "anything")
    assert len(fake.requests) == 1


def test_the_codes_and_detail_travel_with_the_error(fake, client):
    fake.inject("GET", KV_PATH, error_response(400, 10014, "a namespace with this account ID and title already exists"))
    with pytest.raises(errors.CloudflareRequestError) as caught:
        find_kv_namespace(client, ACCOUNT, "anything")
    assert caught.value.codes == (10014,)
    assert caught.value.detail == "code 10014: a namespace with this account ID and title already exists"


def test_without_a_permission_hint_the_403_sentence_still_says_what_to_do(fake, client):
    fake.inject("GET", KV_PATH, error_response(403, 10000, "Authentication error"))
    with pytest.raises(errors.CloudflarePermissionError, match="the permission this needs"):
        with errors.cloudflare_errors("listing KV namespaces"):
            list(client.kv.namespaces.list(account_id=ACCOUNT))


def test_errors_other_than_the_sdks_pass_through_untouched():
    with pytest.raises(KeyError):
        with errors.cloudflare_errors("doing something"):
            raise KeyError("not an API error")


def test_the_remote_access_log_says_what_to_do_too(fake, cf_settings):
    """CloudflareAccessLog (gateway_ops.accesslog) reuses the same translation."""
    from gateway_ops.accesslog import CloudflareAccessLog
    from gateway_ops.cloudflare_api import make_client
    from gateway_ops.exceptions import AccessLogError

    database = fake.add_d1("organized-gateway-db")
    log = CloudflareAccessLog(make_client(cf_settings, fake.http_client()), ACCOUNT, database.uuid)
    with pytest.raises(AccessLogError) as caught:
        log.query("SELEKT 1")
    assert str(caught.value).startswith("The remote access-log query failed: Cloudflare refused the request")
    assert 'near "SELEKT": syntax error' in str(caught.value)
    fake.denied.add("d1")
    with pytest.raises(AccessLogError, match="give it the D1 Edit permission"):
        log.query("SELECT 1")
