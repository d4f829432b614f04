"""Fixtures of the other folders used here too."""

from tests.bedside.conftest import broker_factory  # noqa: F401 (a fixture)
