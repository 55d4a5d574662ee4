"""The store edge: content-addressed blobs (sha256) and file digests with a stat cache."""
