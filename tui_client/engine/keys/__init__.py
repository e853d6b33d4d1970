"""Keys with I/O: our cross-signing identity and other people's (`identity`), the server-side
key backup (`backup`), emoji verification (`verification`), room keys and secrets between our
own verified devices (`gossip_rules`, `gossip`), and a sync's key traffic routed to them
(`router`)."""
