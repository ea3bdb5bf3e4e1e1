"""Socket.IO namespaces: ``/live_agent`` (widgets) and ``/agent`` (agents).

All calls into python-socketio (untyped) stay inside this package.
"""
