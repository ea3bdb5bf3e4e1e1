"""Pydantic models of every socket event payload and REST body, and the event names."""
