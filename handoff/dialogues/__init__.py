"""Dialogues as data: the preset handoff dialogues (and the runtime that runs bot flows)."""
