"""The bedside fixtures (a private topic root on the shared Mosquitto) for the cluster tests."""

from tests.bedside.conftest import shared_broker, topics

__all__ = ["shared_broker", "topics"]
