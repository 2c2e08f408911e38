"""Live checks while a session is recorded: media tap, worker process, pushed states."""
