"""The Hallway export format (docs/exports.md): its records and manifest, what a scope
covers in the database, writing an export or a day's archive, and importing an export.

A package of its own rather than a domain module or a store one: the format is used by
the command line, by the API's export jobs (hallway/domain/export_jobs.py) and by the
retention job's daily archives, and it spans reading the database, file storage and
files on disk, like hallway/files/ does for attachments.
"""
