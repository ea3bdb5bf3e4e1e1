"""Socket.IO namespaces: ``/live_agent`` (widgets) and ``/agent`` (agents).

All calls into python-socketio (untyped) stay inside this package, behind the
typed names of :mod:`handoff.sockets.engine`; room names come from
:mod:`handoff.sockets.rooms`.
"""
