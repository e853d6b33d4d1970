"""Emoji (SAS) verification: `flow` is the pure state machine of one verification, `service`
the shell that sends and receives its messages (to-device for our own devices, room events in a
direct chat with other people) and signs what a successful one proved."""
