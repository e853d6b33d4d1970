"""Emoji (SAS) verification: `flow` is the pure state machine of one verification, `service`
the shell that receives its messages (to-device for our own devices, room events in a direct
chat with other people) and takes the user's actions, `transport` sends its messages, and
`proved` signs what a successful one proved."""
