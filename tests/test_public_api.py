"""The package's public surface: everything in __all__ resolves (as httpx's test_exported_members)."""
import gateway_ops


def test_every_exported_name_resolves():
    for name in gateway_ops.__all__:
        assert getattr(gateway_ops, name) is not None, name


def test_unknown_names_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        gateway_ops.no_such_thing  # noqa: B018


def test_every_name_gateway_ops_cloudflare_exports_resolves():
    """gateway_ops.cloudflare re-exports lazily too: every name in its __all__ comes from its module."""
    import gateway_ops.cloudflare as cloudflare

    for name in cloudflare.__all__:
        value = getattr(cloudflare, name)  # AttributeError if the table names the wrong module
        assert getattr(value, "__module__", "gateway_ops.cloudflare.").startswith("gateway_ops.cloudflare."), name
