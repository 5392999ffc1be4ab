"""Privacy: data keys, encryption at rest, erasure, access, retention and backups."""
