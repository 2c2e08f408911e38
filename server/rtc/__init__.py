"""WebRTC media: pass-through relay between the two participants, crash-safe recording, review video.

Knows nothing of HTTP or the database: the API layer calls :class:`server.rtc.manager.RoomManager`.

Modules: ``room`` (Room), ``forwarding`` (a room's packet path), ``manager`` (RoomManager),
``offer`` (SDP offer checks), ``resume`` (where a room made again picks up), ``participant``
(one connection's state), ``relay`` (outgoing packet track), ``recorder`` (Matroska writer
thread), ``matroska`` (the file it writes: streams, packets), ``sync`` (RTCP sender-report
clock), ``passthrough`` (packets instead of frames from aiortc), ``ice`` (candidate
addresses, consent timing), ``review_video``, ``probe``
(reopen and describe a recording), ``client`` (a Python peer for tests and benchmarks),
``medialoop`` (the rooms' own event loop and thread in ``kesu serve``: API load cannot
starve the media).

What we change in aiortc/aioice at run time (each documented where it is done):

* ``aiortc.rtcrtpreceiver.get_decoder`` is replaced once; it returns a pass-through
  decoder only inside the decoder thread of receivers registered with
  ``passthrough.enable`` and the original decoder everywhere else. ``enable`` also swaps
  that receiver's timestamp mapper and wraps its ``_handle_rtcp_packet`` (sender reports).
* ``RTCRtpSender._send_keyframe`` is overridden on the relay's own sender objects only, so
  a viewer's PLI/FIR reaches the participant whose packets it watches.
* ``aioice.ice.get_host_addresses`` is replaced once by a function that honours a context
  variable set around ``setLocalDescription`` (``ice.candidate_addresses``); outside it the
  original runs. ``ice.configure_consent`` (opt-in) sets aioice's consent globals.
"""
