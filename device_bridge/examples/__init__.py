"""Example bridge configs (one per adapter) and the demo estate for the simulator.

A package only so that the ``*.toml`` files ship with the distribution
(``[tool.setuptools.package-data]``); there is no code here.
"""
