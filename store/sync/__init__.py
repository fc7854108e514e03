"""The sync engine: loads mail from IMAP into the store, incrementally and crash-safely (see docs/sync.md)."""
