"""bplint knowledge base: misconception entries, their schema and their numeric tests.

``kb`` never imports ``linter``. Import the pieces you need (``kb.schema``, ``kb.load``,
``kb.numerics``, ``kb.verify``); this package root stays empty so importing ``kb`` is free.
"""
