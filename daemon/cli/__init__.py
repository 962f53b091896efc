"""The `alice` command line."""
