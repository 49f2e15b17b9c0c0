"""Parsing of departments' bulk uploads (CSV, NDJSON, .xlsx) into record rows."""
