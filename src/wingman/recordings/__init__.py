"""Call recordings: opt-in per workspace, recorded live, finished into Ogg/Opus or FLAC,
played on the call page, deleted with the call and by retention (service.py)."""
