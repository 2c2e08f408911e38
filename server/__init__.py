"""Kesu server: HTTP API, WebRTC media, recording, storage, jobs and audit."""
