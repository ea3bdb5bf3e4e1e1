"""handoff: a live-agent human-handoff server for chatbots."""

__version__ = "0.1.0"
__all__ = ["__version__"]
