"""Local package registries for hermetic updater tests: npm, PEP 503, cargo and Go.

Every registry is served from files the test builds (over loopback HTTP or as a plain
directory), so no test ever reaches a public registry.
"""
