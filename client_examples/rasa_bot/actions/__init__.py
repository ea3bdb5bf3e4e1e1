"""Rasa custom actions that hand a conversation to a handoff live agent."""
