"""The service layer: every write and every rule, shared by web, API and CLI."""
