"""Opiekun's SQLite database backend (ENGINE "opiekun.core.sqlite"): Django's, with writers in line."""
