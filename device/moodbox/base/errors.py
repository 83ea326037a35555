"""What a person can fix: an error said as one line naming the fix, never a traceback.

Each path's own errors (a bad config value, a missing model, a dead camera, an MPD that refuses
us, ...) derive from `Explained` as well as from their usual base, so the command line can catch
them all without importing every path (and its OpenCV or LiteRT) to name them.
"""


class Explained(Exception):
    """An error whose message is the whole story: one line, with the fix."""
