"""tui_client: a terminal Matrix client with encrypted history sharing (MSC4268)."""

__version__ = "0.1.0"
