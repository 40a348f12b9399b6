"""The terminal side of `bend`: messages through `logging` on stderr, and progress (a bar on a terminal,
plain lines in a log file). No torch and no Qt here, so `bend status` starts fast."""
