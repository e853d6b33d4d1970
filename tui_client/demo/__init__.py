"""`tui-client demo`: encrypted history sharing on a private homeserver, offline, in one command."""
