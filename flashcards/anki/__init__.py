"""The Anki-facing steps: note specs and note types, deck state, the .apkg package."""
