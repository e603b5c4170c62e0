"""The package's public surface: everything in __all__ resolves (as httpx's test_exported_members)."""
import gateway_ops


def test_every_exported_name_resolves():
    for name in gateway_ops.__all__:
        assert getattr(gateway_ops, name) is not None, name


def test_unknown_names_raise_attribute_error():
    import pytest

    with pytest.raises(AttributeError):
        gateway_ops.no_such_thing  # noqa: B018
