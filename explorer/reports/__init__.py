"""Audit reports: every mint, deposit and withdrawal of a scope, as JSON, CSV or PDF.

Modules: ``request`` (what was asked: scope, selectors, pins), ``positions`` (the chain positions
a report is judged at), ``collect`` (the scope's items, streamed in chain order), ``items`` (THE
place items get their verdicts from), ``archive`` (the deterministic tar codec, pure), ``build``
(the writers), ``pdf`` (WeasyPrint), ``hooks`` (optional sections such as reserves), ``jobs``
(the job table behind ``POST /api/v1/reports``). ``archive`` is imported by the offline verifier,
so this package's ``__init__`` imports nothing.
"""
