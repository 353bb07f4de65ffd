"""The Hallway export format (docs/exports.md): its records and manifest, what a scope
covers in the database, and writing records or a whole export zip.

A package of its own, beside hallway/files/ and below the domain: the format is used by
several use cases (export jobs, day archives, importing an export: hallway/domain/
export_jobs.py, day_archives.py, export_import.py) and by the command line, and it spans
the database, file storage and files on disk. It imports only store/ and files/.
"""
