"""Widgets of the terminal UI: room list, timeline and messages, composer, invite card, status bar."""
