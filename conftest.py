"""Project-wide pytest setup (the data folder is chosen earlier, by opiekun.testing.pytest_env)."""

pytest_plugins = ["opiekun.testing.fixtures", "opiekun.testing.mailservers", "opiekun.testing.redisserver"]


def pytest_collection_modifyitems(config, items):  # type: ignore[no-untyped-def]
    """Everything under tests/browser is a browser test (so `-m "not browser"` skips the lot)."""
    import pytest

    for item in items:
        if "tests/browser/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
