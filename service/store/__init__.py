"""Models, sessions, migrations and backups: where everything is kept."""
