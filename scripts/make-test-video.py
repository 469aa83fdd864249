#!/usr/bin/env python3
"""Makes e2e/server/media/bars.webm, the video the documents tests play and seek: 30 s of
GStreamer's test pattern, 160x120 VP8 at 10 frames a second, in a WebM with cues (seekable).
Run once; its output is committed. Needs GStreamer with the vpx and matroska plugins (ctypes:
no Python bindings needed)."""
import ctypes
import os
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else 'e2e/server/media/bars.webm'
PIPELINE = (
    'videotestsrc num-buffers=300 ! video/x-raw,width=160,height=120,framerate=10/1 '
    f'! vp8enc deadline=1 target-bitrate=64000 keyframe-max-dist=10 ! webmmux ! filesink location={OUT}'
)
GST_STATE_NULL, GST_STATE_PLAYING = 1, 4
GST_MESSAGE_EOS, GST_MESSAGE_ERROR = 1 << 0, 1 << 1

gst = ctypes.CDLL('libgstreamer-1.0.so.0')
gst.gst_init(None, None)
gst.gst_parse_launch.restype = ctypes.c_void_p
gst.gst_parse_launch.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
gst.gst_element_set_state.argtypes = [ctypes.c_void_p, ctypes.c_int]
gst.gst_element_get_bus.restype = ctypes.c_void_p
gst.gst_element_get_bus.argtypes = [ctypes.c_void_p]
gst.gst_bus_timed_pop_filtered.restype = ctypes.c_void_p
gst.gst_bus_timed_pop_filtered.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int]

pipeline = gst.gst_parse_launch(PIPELINE.encode(), None)
if not pipeline:
    sys.exit(f'GStreamer could not make: {PIPELINE}')
gst.gst_element_set_state(pipeline, GST_STATE_PLAYING)
bus = gst.gst_element_get_bus(pipeline)
gst.gst_bus_timed_pop_filtered(bus, 2**64 - 1, GST_MESSAGE_EOS | GST_MESSAGE_ERROR)
gst.gst_element_set_state(pipeline, GST_STATE_NULL)
# An error ends the pipeline early too: what tells them apart here is the file.
if not os.path.exists(OUT) or os.path.getsize(OUT) < 100_000:
    sys.exit(f'GStreamer failed to write {OUT}')
print(f'wrote {OUT}: {os.path.getsize(OUT)} bytes')
