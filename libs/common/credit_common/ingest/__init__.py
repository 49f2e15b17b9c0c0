"""Parsing of departments' bulk uploads (CSV, NDJSON, .xlsx) into record rows.

Each reader yields :class:`ParsedRow` one at a time, numbered 1-based over the data rows
(the header row is not counted), holding either a mapped :class:`Row` or the errors that
kept the row from being read; reading goes on after a bad row. Memory stays flat whatever
the size: only the current chunk, the rows parsed from it and at most one unfinished
record are held.

A row that cannot be mapped (a natural person named by another document than an identity
card, a field given twice in NDJSON ``fields``) is an error for that row only.

A file that cannot be read as a table at all (wrong header, no header, not a workbook)
raises :class:`HeaderError` before any row; a spreadsheet whose sheet breaks off after its
header ends with an error row at the break instead. Values are only parsed and mapped here
(:mod:`credit_common.ingest.fieldmap`); schema validation is the records service's job.
"""
