"""HTML pages by area (hemi, provenance, tunnel, search, status, errors): full page normally,
the named partial for htmx; links keep ``href`` so every page works without JavaScript."""
