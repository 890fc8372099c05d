"""Explicit serializer fields per resource: what we index, in the byte order the schema names."""
