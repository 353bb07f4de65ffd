"""File storage (local directory or S3-compatible), content sniffing, thumbnails, signed links."""
