"""Core messages as the GUI shows them. Core's errors end with the `bend` command that fixes them, which is
right in a terminal; in the GUI the same action is a button (Run up to …, Rerun), so the command goes."""

from __future__ import annotations

import re


def without_command(message: str) -> str:
    """`message` without its parenthesised `bend …` command: "(bend run DIR --until base)" goes, and
    "(Add subset…, or bend ablation …)" keeps its first part."""
    message = re.sub(r",\s*or bend [^()]*(?=\))", "", message)
    return re.sub(r"\s*\(bend [^()]*\)", "", message)
