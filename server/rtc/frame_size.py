"""The picture size a received video keyframe declares, read from its header alone.

A participant's browser (or a script with the join link) chooses its video's resolution:
VP8 allows 16383 x 16383 and H.264 more. The server records packets without decoding
them, but the inspection, the review video and the live checks decode every frame: one
16383-pixel-square frame is 400 MB decoded and twice that in BGR, and a whole recording of
them would exhaust the worker. The passthrough decoder (``server.rtc.passthrough``) drops
keyframes whose declared size is larger than :data:`MAX_SIDE` a side, and what depends on
them, before anything is stored or relayed.

VP8: the keyframe header (RFC 6386 9.1) holds the width and height in 14 bits each.
H.264: the sequence parameter set (ITU-T H.264 7.3.2.1.1) holds the size in macroblocks.
"""

from __future__ import annotations

#: Largest side of a received picture: a 4K camera (3840 x 2160) fits; the same bound as
#: the self-service stills (``server.selfservice.MAX_IMAGE_SIDE``).
MAX_SIDE = 4096

# Profiles whose SPS carries chroma format, bit depths and scaling matrices.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class _Bits:
    """An RBSP bit reader (emulation prevention bytes removed); IndexError at its end."""

    def __init__(self, data: bytes) -> None:
        self._data = data.replace(b"\x00\x00\x03", b"\x00\x00")
        self._pos = 0

    def u(self, n: int) -> int:
        value = 0
        for _ in range(n):
            byte = self._data[self._pos >> 3]
            value = (value << 1) | ((byte >> (7 - (self._pos & 7))) & 1)
            self._pos += 1
        return value

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """(width, height) of a VP8 keyframe, None if ``frame`` is not one."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return (frame[6] | frame[7] << 8) & 0x3FFF, (frame[8] | frame[9] << 8) & 0x3FFF


def h264_sps_size(nal: bytes) -> tuple[int, int]:
    """(width, height) in pixels, before cropping, of one SPS NAL unit (header byte
    included). ValueError / IndexError when it is cut short or malformed."""
    bits = _Bits(nal[1:])
    profile = bits.u(8)
    bits.u(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    if profile in _HIGH_PROFILES:
        chroma = bits.ue()
        if chroma == 3:
            bits.u(1)  # separate_colour_plane_flag
        bits.ue()  # bit_depth_luma_minus8
        bits.ue()  # bit_depth_chroma_minus8
        bits.u(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if bits.u(1):
                    _skip_scaling_list(bits, 16 if i < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        bits.u(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    return width_mbs * 16, height_units * 16 * (2 - frame_mbs_only)


def _skip_scaling_list(bits: _Bits, size: int) -> None:
    last, following = 8, 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def h264_sizes(frame: bytes) -> list[tuple[int, int]]:
    """The sizes the SPS units of an Annex-B access unit declare; an SPS that cannot be
    read counts as too large (a decoder would refuse it, or read it otherwise)."""
    sizes = []
    starts = []
    pos = frame.find(b"\x00\x00\x01")
    while pos != -1:
        starts.append(pos + 3)
        pos = frame.find(b"\x00\x00\x01", pos + 3)
    for i, start in enumerate(starts):
        if start >= len(frame) or frame[start] & 0x1F != 7:
            continue
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(frame)
        try:
            sizes.append(h264_sps_size(frame[start:end]))
        except (ValueError, IndexError):
            sizes.append((MAX_SIDE + 1, MAX_SIDE + 1))
    return sizes


def too_large(codec_name: str, frame: bytes, max_side: int = MAX_SIDE) -> bool | None:
    """Whether a keyframe declares a picture larger than ``max_side`` a side; None when
    ``frame`` declares no size (not a keyframe, or an H.264 frame without an SPS)."""
    name = codec_name.lower()
    if name == "vp8":
        size = vp8_size(frame)
        sizes = [] if size is None else [size]
    elif name == "h264":
        sizes = h264_sizes(frame)
    else:
        return None
    if not sizes:
        return None
    return any(max(w, h) > max_side for w, h in sizes)
