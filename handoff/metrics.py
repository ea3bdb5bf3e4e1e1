"""Prometheus metrics, served at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

__all__ = [
    "ACTION_CALLS",
    "CONNECTIONS",
    "DELIVERY_LATENCY",
    "LATENCY_TO_AGENT",
    "LATENCY_TO_WIDGET",
    "MESSAGES",
    "PROCESS_INFO",
    "QUEUE_LENGTH",
    "QUEUE_LONGEST_WAIT",
    "QUEUE_WAIT",
    "REDIS_PUBLISH_FAILURES",
    "REDIS_ROUND_TRIP",
    "REDIS_UP",
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

# Each process serves its own /metrics and counts what it did itself: scrape every process
# (Prometheus adds its ``instance`` label). No per-process label here: a pid would start a new
# series at every restart. ``handoff_process_info`` ties an instance to its pid if needed.
PROCESS_INFO = Gauge(
    "handoff_process_info",
    "Always 1; labels: this process's id and Socket.IO host id",
    ["pid", "host_id"],
)
DELIVERY_LATENCY = Histogram(
    "handoff_delivery_latency_seconds",
    "Chat messages relayed by this process (its _count: to_agent, from a widget; to_widget, "
    "from an agent), timed from their arrival in the routing to their emit to the other side, "
    "stored in between",
    ["direction"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
# Bound once: every relayed message is observed, without a label lookup each. The count of
# messages relayed is the histogram's _count (a counter beside it would cost every message).
LATENCY_TO_AGENT = DELIVERY_LATENCY.labels("to_agent")
LATENCY_TO_WIDGET = DELIVERY_LATENCY.labels("to_widget")
QUEUE_LENGTH = Gauge(
    "handoff_queue_length",
    "Conversations waiting for an agent, per bot, read from the routing state at scrape time "
    "(with Redis every process reports the shared queue: aggregate with max, not sum)",
    ["bot_id"],
)
QUEUE_LONGEST_WAIT = Gauge(
    "handoff_queue_longest_wait_seconds",
    "How long the longest-waiting queued conversation of the bot has waited, at scrape time",
    ["bot_id"],
)
ACTION_CALLS = Counter(
    "handoff_action_calls_total",
    "Custom-action calls by stage (staging: live tests; production) and result: ok, or the "
    "kind of bot break (exception, timeout, syntax, ...)",
    ["stage", "result"],
)
REDIS_UP = Gauge(
    "handoff_redis_up",
    "1 while the last round trip through the Socket.IO pub/sub channel to this process came "
    "back; 0 while Redis is unreachable or this process's listener is deaf",
)
REDIS_ROUND_TRIP = Gauge(
    "handoff_redis_round_trip_seconds",
    "The last successful round trip through the Socket.IO pub/sub channel to this process",
)
REDIS_PUBLISH_FAILURES = Counter(
    "handoff_redis_publish_failures_total",
    "Emits, room changes and disconnects that could not be published to other processes "
    "(tried twice); their clients there fill the gap from history",
)
