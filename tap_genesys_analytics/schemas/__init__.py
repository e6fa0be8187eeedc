"""JSON Schemas, one per stream; the file name is the stream name."""
