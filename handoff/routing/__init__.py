"""Conversation states, the queue, presence and assignment."""
