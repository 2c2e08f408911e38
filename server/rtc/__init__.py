"""WebRTC media: pass-through relay between the two participants, crash-safe recording, review video.

Knows nothing of HTTP or the database: the API layer calls :class:`server.rtc.room.RoomManager`.
"""
