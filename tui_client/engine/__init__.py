"""The headless engine: owns the Matrix client; never imports Textual or Rich."""
