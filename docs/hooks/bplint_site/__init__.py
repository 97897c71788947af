"""Build-time helpers for the bplint docs site (used by the hooks in ``docs/hooks/``).

``measure`` runs the KB's numeric tests and draws their figures, ``render`` turns entries, rules
and measurements into Markdown pages, ``nav`` builds the navigation. Everything here is plain
functions over ``kb`` and ``linter`` objects, so tests can import it without MkDocs.
"""
