"""Screens of the terminal UI: login, main, invites, create room, confirm, logs, help."""
