"""The vision path: camera frames in, mood decisions out.

Owns the frame sources (`frame`: what each hands out and how it fails; `camera`: Pi camera, USB,
clip; `image_folder`; `grabber`: the newest frame of
a live camera on its own thread; `rate`: which frames are analysed), face finding (`faces`), the
emotion model (`emotion`), the mood engine (`mood`), the path in one call (`pipeline.Vision`) and
its config sections (`settings`). It may use moodbox.base only: it knows nothing of music or MPD.
"""
