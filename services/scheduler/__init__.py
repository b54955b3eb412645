"""The scheduler: triggers and skip rules, per-project FIFO, one active job per project."""
