"""Notifications on our side of the encryption: the user's push rules evaluated on decrypted
events (`push_rules`, pure), and the part of the engine that turns the result into highlighted
messages, highlighted rooms and notifications for front ends (`notifier`)."""
