"""The zoo: correct from-scratch numpy networks, their gradient checks and their mutants.

* ``networks/``: the networks themselves, plain source files in many real styles (one is a
  package). They are data for the linter and for the harness, not imported by the test suite.
* ``sources.py``: where they live and how to read / write them.
* ``harness.py``: loads a network from source text and checks its gradients numerically.
* ``mutants.py``: mutation operators (plain data) that turn a network into a cargo-culted one,
  each with the bplint rule code that must flag it and the line where it should be reported.
"""
