"""`make bench`: performance figures beside floors measured in the same run (shared/design/bench.md)."""
