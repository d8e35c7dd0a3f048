"""`portwatch run`: the stages wired together, timed work, the clock, systemd."""
