"""Running as a service: logs, metrics, systemd notify and unit, presence files."""
