"""Prometheus metrics, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = ["CONNECTIONS", "MESSAGES", "QUEUE_WAIT", "TRANSITIONS", "WRITE_BATCH"]

MESSAGES = Counter("handoff_messages_total", "Chat messages stored", ["sender"])
TRANSITIONS = Counter(
    "handoff_conversation_transitions_total", "Conversation state changes", ["transition"]
)
CONNECTIONS = Gauge(
    "handoff_socket_connections", "Connected sockets in this process", ["namespace"]
)
QUEUE_WAIT = Histogram(
    "handoff_queue_wait_seconds",
    "Time from queued to assigned",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800),
)
WRITE_BATCH = Histogram(
    "handoff_message_write_batch_size",
    "Messages committed per transaction",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500),
)
