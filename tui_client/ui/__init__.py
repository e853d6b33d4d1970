"""The Textual terminal UI. Everything that imports textual or rich lives under this package."""
