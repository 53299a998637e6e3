"""The suites' pytest plumbing lives in bench (bench/plugin.py); see bench/settings.py for the options."""
pytest_plugins = ["bench.plugin"]
