"""Prometheus metrics, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "CONNECTIONS",
    "MESSAGES",
    "QUEUE_WAIT",
    "STORAGE_FAILING",
    "STORAGE_FAILURES",
    "TRANSITIONS",
    "WEBHOOK_BACKLOG",
    "WEBHOOK_DELIVERIES",
    "WRITE_BATCH",
]

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
STORAGE_FAILURES = Counter(
    "handoff_storage_failures_total",
    "Database operations that failed for the storage's sake (disk full, I/O, read-only, down)",
    ["backend"],
)
STORAGE_FAILING = Gauge(
    "handoff_storage_failing",
    "1 while writes to the database are failing (from the first failure to the next success)",
    ["backend"],
)
WEBHOOK_BACKLOG = Gauge(
    "handoff_webhook_outbox_backlog",
    "Webhook events not delivered yet (pending in the outbox), as last counted by this process",
)
WEBHOOK_DELIVERIES = Counter(
    "handoff_webhook_deliveries_total",
    "Webhook delivery attempts by result: delivered (2xx), retry (will be tried again), "
    "failed (gave up after the retry window)",
    ["result"],
)
