"""The history: what the box decided and what the listener did, as events in one SQLite file.

Owns the file and its schema (`store`: open, recognise, move a damaged file aside, prune, the
readers' queries), the writer thread that keeps it off the frame loop (`writer`: a bounded queue,
commits every half second) and the `history:` config section (`settings`). It may use
moodbox.base only: the appliance records into it, and the readers (listener feedback, the web
page, `moodbox status`) read it. Never a frame, a crop or a face: only moods, playlists, songs,
buttons and errors.
"""
