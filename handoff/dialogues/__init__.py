"""Dialogues: the preset handoff dialogues as data, and the runtime that runs a bot's own flow."""
