"""The prediction service: a thin app factory (app.py) wiring route groups, each its own module,
over one JSON-errors plugin (web.py), the live model (live.py) and scoring (scoring.py)."""
