"""Runs ``PROGRAM ARGS...`` with SIGINT's disposition set, whatever the test run inherited: ``default`` as a
terminal's foreground job has it (Ctrl+C), ``ignored`` as a script's ``command &`` starts it (CI runs pytest so).

Usage: with_sigint.py default|ignored PROGRAM [ARGS...]
"""

import os
import signal
import sys

DISPOSITIONS = {"default": signal.SIG_DFL, "ignored": signal.SIG_IGN}

signal.signal(signal.SIGINT, DISPOSITIONS[sys.argv[1]])
os.execv(sys.argv[2], sys.argv[2:])
