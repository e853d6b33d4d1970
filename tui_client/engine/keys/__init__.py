"""Keys with I/O: our cross-signing identity and other people's (`identity`)."""
