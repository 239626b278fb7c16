"""One module per schema revision; see ``migrations/README``."""
