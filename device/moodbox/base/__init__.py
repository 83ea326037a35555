"""What every path stands on: the mood vocabulary, errors said in one line, models, files and names.

Owns `moods` (the seven moods and "away"), `errors` (`Explained`: an error whose message is one line
with the fix), `litert` (loading a TFLite model whose sha256 matches its sidecar, and `ModelError`),
`shipped` (where the shipped models are), `sqlite_files` (recognising our own SQLite files before
writing them), `text` (`printable`: names made safe for one log line) and `native` (muting C
libraries' own stderr lines). It imports no other moodbox package: every other package uses it, and
it uses none of them.
"""
