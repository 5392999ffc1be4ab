"""The attack suite: the running servers of the integration tests (one kefu per test session)."""

from tests.integration.conftest import bot  # noqa: F401  (the REST client of the running kefu)
