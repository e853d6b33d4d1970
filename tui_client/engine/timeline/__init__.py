"""Room timelines: nio events turned into `TimelineItem`s (`convert`), what we hold of each
room (`room`), and the part of the engine that keeps them, pages back, retries decryption when
keys arrive and says why a message cannot be read (`timelines`)."""
