"""The acme benchmark runner: stacks, load drivers, resource accounting and reports.

Run it through hatch's ``bench`` environment (``hatch run bench:report``);
benchmarks/README.md describes every command.
"""
